import { createHash } from 'node:crypto';
import test from 'ava';
import { InvalidInputError } from '../../src/domain/errors.ts';
import { exportGeneration } from '../../src/domain/generation-export.ts';
import { diffGenerations, generationHash, packagesOf, type Generation, type GenerationPackage } from '../../src/domain/generations.ts';
import { pep440Order } from '../../src/managers/version-order.ts';
import { CHAIN_LENGTH, materialize, planStorage, type StoredGeneration } from '../../src/store/generation-chain.ts';
import { generationDraft, pipPackages, T0 } from '../store/builders.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function generation(number: number, packages: GenerationPackage[], kind: 'pip' | 'conda' = 'pip'): Generation {
  const { packages: sorted, ...draft } = generationDraft('alpha', packages, { manager: { kind, version: kind === 'pip' ? '23.2.1' : '23.7.4' } });
  return { ...draft, number, packageCount: sorted.length, packages: sorted };
}

test('the generation hash is sha256 of one JSON line per package, sorted by normalised name', (t) => {
  const set = [{ name: 'PyYAML', version: '6.0' }, { name: 'attrs', version: '23.1.0' }];
  t.is(generationHash('pip', set), sha256('["attrs","23.1.0"]\n["pyyaml","6.0"]\n'));
  // The order given, the spelling of a name, and whether a package was asked for do not change the set.
  t.is(generationHash('pip', [...set].reverse()), generationHash('pip', set));
  t.is(generationHash('pip', [{ name: 'py_yaml', version: '6.0' }, { name: 'attrs', version: '23.1.0', requested: true }]),
    generationHash('pip', [{ name: 'Py.YAML', version: '6.0' }, { name: 'attrs', version: '23.1.0', requested: false }]));
  t.not(generationHash('pip', [{ name: 'PyYAML', version: '6.0.1' }, set[1]!]), generationHash('pip', set));
  // conda: the build and the channel are part of the package.
  t.is(generationHash('conda', [{ name: 'numpy', version: '1.26.4', build: 'py311_0', channel: 'conda-forge' }]), sha256('["numpy","1.26.4","py311_0","conda-forge"]\n'));
  t.not(generationHash('conda', [{ name: 'numpy', version: '1.26.4', build: 'py311_1', channel: 'conda-forge' }]),
    generationHash('conda', [{ name: 'numpy', version: '1.26.4', build: 'py311_0', channel: 'conda-forge' }]));
});

test('packagesOf reads both pip sections (and conda\'s all), once per package, with requested, build and channel', (t) => {
  const pip = packagesOf('pip', {
    outdated: [{ packageName: 'zeta', currentVersion: '1.0', latestVersion: '2.0', requested: false }],
    uptodate: [{ packageName: 'Alpha', currentVersion: '3.0', requested: true }, { packageName: 'alpha', currentVersion: '9.9' }, { packageName: 'mid', currentVersion: '1' }],
  });
  t.deepEqual(pip, [{ name: 'Alpha', version: '3.0', requested: true }, { name: 'mid', version: '1' }, { name: 'zeta', version: '1.0', requested: false }]);
  const conda = packagesOf('conda', { all: [{ packageName: 'numpy', currentVersion: '1.26.4', currentBuild: 'py311_0', channel: 'conda-forge', latestVersion: '2.0' }] });
  t.deepEqual(conda, [{ name: 'numpy', version: '1.26.4', build: 'py311_0', channel: 'conda-forge' }]);
});

test('a diff names packages added, removed, upgraded and downgraded in PEP 440 order, with whether each was asked for', (t) => {
  const from = generation(1, [
    { name: 'app', version: '1.0', requested: true }, { name: 'dep', version: '1.9', requested: false }, { name: 'old', version: '2.0', requested: false },
    { name: 'pinned', version: '1.0.post1', requested: true }, { name: 'legacy', version: '2004d' }, { name: 'same', version: '1.0' },
  ]);
  const to = generation(2, [
    { name: 'app', version: '1.0rc1', requested: true }, { name: 'dep', version: '1.10', requested: false }, { name: 'new', version: '0.1', requested: false },
    { name: 'pinned', version: '1.0', requested: true }, { name: 'legacy', version: '2005a' }, { name: 'same', version: '1.0' },
  ]);
  const diff = diffGenerations('pip', from, to, pep440Order);
  t.like(diff, { from: 1, to: 2, fromHash: from.hash, toHash: to.hash });
  t.deepEqual(diff.added, [{ name: 'new', version: '0.1', requested: false }]);
  t.deepEqual(diff.removed, [{ name: 'old', version: '2.0', requested: false }]);
  // 1.10 > 1.9 (not as text), a release candidate comes before its release, a post-release after it.
  t.deepEqual(diff.upgraded, [{ name: 'dep', from: '1.9', to: '1.10', requested: false }]);
  t.deepEqual(diff.downgraded, [{ name: 'app', from: '1.0', to: '1.0rc1', requested: true }, { name: 'pinned', from: '1.0.post1', to: '1.0', requested: true }]);
  // A version PEP 440 cannot read is changed, in no order.
  t.deepEqual(diff.changed, [{ name: 'legacy', from: '2004d', to: '2005a' }]);
  const back = diffGenerations('pip', to, from, pep440Order);
  t.deepEqual(back.upgraded.map((c) => c.name), ['app', 'pinned']);
  t.deepEqual(back.added.map((p) => p.name), ['old']);
});

test('a conda diff shows a rebuild of the same version as changed, with both builds', (t) => {
  const from = generation(1, [{ name: 'numpy', version: '1.26.4', build: 'py311_0', channel: 'conda-forge' }], 'conda');
  const to = generation(2, [{ name: 'numpy', version: '1.26.4', build: 'py311_1', channel: 'conda-forge' }], 'conda');
  t.deepEqual(diffGenerations('conda', from, to, pep440Order).changed, [{ name: 'numpy', from: '1.26.4', to: '1.26.4', fromBuild: 'py311_0', toBuild: 'py311_1' }]);
});

test('requirements.txt pins every package, marks dependencies, and leaves out what pip would read as anything but a pin', (t) => {
  const g = generation(3, [
    { name: 'app', version: '1.0', requested: true }, { name: 'dep', version: '2.0', requested: false }, { name: 'legacy', version: '2004d' },
    { name: 'evil\n--index-url=http://x', version: '1.0' }, { name: 'bad-version', version: '1.0; os_name=="nt"' },
  ]);
  const file = exportGeneration('alpha', 'pip', g, 'requirements');
  t.is(file.filename, 'alpha-generation-3-requirements.txt');
  const lines = file.body.trimEnd().split('\n');
  t.true(lines[0]!.startsWith(`# alpha: generation 3 (pip 23.2.1), sha256 ${g.hash}`));
  const pins = lines.filter((l) => !l.startsWith('#'));
  t.deepEqual(pins, ['app==1.0', 'dep==2.0  # dependency', 'legacy===2004d']);
  t.is(lines.filter((l) => l.startsWith('# left out')).length, 2);
  t.false(lines.some((l) => l.startsWith('--')), 'no line is an option');
});

test('environment.yml pins conda packages with channel and build, and what pip installed in a pip section', (t) => {
  const g = generation(2, [
    { name: 'numpy', version: '1.26.4', build: 'py311h64a7726_0', channel: 'conda-forge' }, { name: 'python', version: '3.11.7', build: 'hab00c5b_1', channel: 'conda-forge' },
    { name: 'requests', version: '2.31.0', build: 'pypi_0', channel: 'pypi' }, { name: 'tzdata', version: '2023c', build: 'h71feb2d_0', channel: 'pkgs/main' },
  ], 'conda');
  const body = exportGeneration('gamma', 'conda', g, 'environment').body;
  t.is(body.split('\n').filter((l) => !l.startsWith('#')).join('\n'), [
    'name: gamma', 'channels:', '  - conda-forge', '  - pkgs/main', 'dependencies:', '  - conda-forge::numpy=1.26.4=py311h64a7726_0',
    '  - conda-forge::python=3.11.7=hab00c5b_1', '  - pkgs/main::tzdata=2023c=h71feb2d_0', '  - pip:', '    - requests==2.31.0', '',
  ].join('\n'));
});

test('a format for the other manager is a 400 naming the formats that fit; json is the manifest', (t) => {
  const g = generation(1, [{ name: 'app', version: '1.0' }]);
  const err = t.throws(() => exportGeneration('alpha', 'pip', g, 'environment'), { instanceOf: InvalidInputError });
  t.is(err!.code, 'EXPORT_FORMAT_UNSUPPORTED');
  t.regex(err!.message, /requirements or json/);
  t.deepEqual(JSON.parse(exportGeneration('alpha', 'pip', g, 'json').body), g);
});

test('storage: a chain starts with a whole set and goes on with differences until it is full or a change is large', (t) => {
  const chain: StoredGeneration[] = [];
  const sets: GenerationPackage[][] = [];
  let set = pipPackages(100);
  for (let n = 1; n <= CHAIN_LENGTH + 3; n++) {
    if (n > 1) set = set.map((p, i) => (i === n ? { ...p, version: `7.${n}` } : p));
    if (n === CHAIN_LENGTH + 3) set = pipPackages(100, Object.fromEntries(set.slice(0, 40).map((p) => [p.name, '9.0'])));
    const draft = generationDraft('alpha', set, { at: T0 + n });
    const latest = chain.at(-1);
    const { record, set: whole } = planStorage(draft, n, latest && { stored: latest, packages: sets.at(-1)! });
    chain.push(record);
    sets.push(draft.packages);
    if (n === 1 || n === CHAIN_LENGTH + 1 || n === CHAIN_LENGTH + 3) {
      t.is(record.base, n, `generation ${n} starts a chain`);
      t.truthy(whole && record.setKey === whole.key);
    } else {
      t.is(whole, undefined, `generation ${n} is a difference`);
      t.deepEqual(record.delta, { put: [draft.packages[n]!], drop: [] });
    }
  }
  // Each generation comes back whole from its chain's set and the differences after it.
  for (const [i, record] of chain.entries()) {
    const links = chain.filter((g) => g.base === record.base && g.number <= record.number);
    t.deepEqual(materialize(links, sets[record.base - 1]!), sets[i]!);
  }
  t.throws(() => materialize(chain.slice(0, 2), pipPackages(3)), { message: /does not match its hash/ });
});
