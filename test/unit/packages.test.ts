import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { UnreadableFileError } from '../../src/domain/errors.ts';
import { isOutdated, managerVersionFrom, mergePackages, parsePackagesInfo, toJavaForm, type PackagesInfo } from '../../src/domain/packages.ts';
import { SAMPLES_DIR } from '../helpers/service.ts';

// packagesInfo.json in both on-disk forms (reference §2.1): the Java writer's (nulls, integer versions) and the
// one-shot Python writer's (fields absent, string versions, maybe ""); and listPackages' merge (§1.1).

const sample = (name: string) => readFileSync(join(SAMPLES_DIR, name, 'packagesInfo.json'), 'utf8');

test('parsePackagesInfo reads the Java form: nulls dropped, integer versions kept', (t) => {
  const info = parsePackagesInfo(sample('sample_pip'));
  t.deepEqual(info.packageManager, { name: 'pip', version: '22.0.2', major: 22, minor: 0, patch: 2 });
  t.is(info.outdated?.length, 3);
  t.is(info.uptodate?.length, 4);
  t.is(info.all, undefined);
  t.deepEqual(info.outdated?.[0], { managerName: 'pip', packageName: 'numpy', currentVersion: '1.24.4', latestVersion: '2.0.2', type: 'wheel' });
  t.deepEqual(info.uptodate?.[0], { managerName: 'pip', packageName: 'wasdi', currentVersion: '0.8.7.3' });
});

test('parsePackagesInfo reads the one-shot Python form: string versions, "" as 0', (t) => {
  const info = parsePackagesInfo(sample('sample_oneshot'));
  t.deepEqual(info.packageManager, { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 });
  t.deepEqual(info.uptodate?.map((p) => p.packageName), ['wasdi', 'pandas']);
});

test('parsePackagesInfo reads the conda form ("all")', (t) => {
  const info = parsePackagesInfo(sample('sample_conda'));
  t.deepEqual(info.packageManager, { name: 'conda', version: '4.12.0', major: 4, minor: 12, patch: 0 });
  t.is(info.outdated, undefined);
  t.is(info.all?.length, 4);
  t.deepEqual(info.all?.[1], { managerName: 'conda', packageName: '_libgcc_mutex', currentVersion: '0.1', currentBuild: 'main' });
});

test('manager version parts: integers, numeric strings, and 0 for anything else (Java optInt)', (t) => {
  const parts = (pm: unknown) => {
    const { major, minor, patch } = parsePackagesInfo(JSON.stringify({ packageManager: pm })).packageManager!;
    return [major, minor, patch];
  };
  t.deepEqual(parts({ major: 22, minor: 0, patch: 2 }), [22, 0, 2]);
  t.deepEqual(parts({ major: '24', minor: ' 1 ', patch: '' }), [24, 1, 0]);
  t.deepEqual(parts({ major: 3.9, minor: null, patch: 'x' }), [3, 0, 0]);
  t.deepEqual(parts({}), [0, 0, 0]);
  t.is(parsePackagesInfo(JSON.stringify({ packageManager: null })).packageManager, undefined);
  t.is(parsePackagesInfo(JSON.stringify({ packageManager: 'pip' })).packageManager, undefined);
  t.deepEqual(parsePackagesInfo(JSON.stringify({ packageManager: { name: null, version: 7 } })).packageManager, { version: '7', major: 0, minor: 0, patch: 0 });
});

test('parsePackagesInfo ignores unknown keys and non-string fields become strings or disappear', (t) => {
  const info = parsePackagesInfo(JSON.stringify({
    warning: 'the packagesInfo.json file for the processor x was not found',
    uptodate: [{ packageName: 'a', currentVersion: 1.5, latestVersion: true, type: { nested: 1 }, extra: 'x' }],
  }));
  t.deepEqual(info, { uptodate: [{ packageName: 'a', currentVersion: '1.5', latestVersion: 'true' }] });
  // WASDI's warning/error JSON for a missing file parses into an empty object (§1.1 step 4).
  t.deepEqual(parsePackagesInfo('{"error": "directory x not found"}'), {});
});

const unreadable: [string, string, string][] = [
  ['an empty text', '', 'SNAPSHOT_EMPTY'],
  ['blank text', ' \n\t ', 'SNAPSHOT_EMPTY'],
  ['invalid JSON', '{"outdated": [', 'SNAPSHOT_UNREADABLE'],
  ['a JSON array', '[]', 'SNAPSHOT_UNREADABLE'],
  ['JSON null', 'null', 'SNAPSHOT_UNREADABLE'],
  ['a JSON string', '"x"', 'SNAPSHOT_UNREADABLE'],
  ['a section that is not a list', '{"outdated": {}}', 'SNAPSHOT_UNREADABLE'],
  ['an entry that is not an object', '{"all": ["numpy"]}', 'SNAPSHOT_UNREADABLE'],
  ['an entry that is null', '{"all": [null]}', 'SNAPSHOT_UNREADABLE'],
  ['an entry without packageName', '{"uptodate": [{"currentVersion": "1"}]}', 'SNAPSHOT_UNREADABLE'],
  ['an entry with a null packageName', '{"uptodate": [{"packageName": null}]}', 'SNAPSHOT_UNREADABLE'],
];

for (const [title, text, code] of unreadable) {
  test(`parsePackagesInfo refuses ${title} with ${code}`, (t) => {
    const err = t.throws(() => parsePackagesInfo(text, 'proc/packagesInfo.json'), { instanceOf: UnreadableFileError });
    t.is(err?.code, code);
    t.true(err?.message.startsWith('proc/packagesInfo.json'));
  });
}

test('mergePackages joins outdated, uptodate and all and sorts by lower-cased name, stably', (t) => {
  const merged = mergePackages({
    outdated: [{ packageName: 'Zeta' }, { packageName: 'beta', currentVersion: 'o' }],
    uptodate: [{ packageName: 'Beta', currentVersion: 'u' }, { packageName: '_x' }],
    all: [{ packageName: 'alpha' }, { packageName: 'BETA', currentVersion: 'a' }, { packageName: 'Zeta' }],
  });
  t.deepEqual(merged, [
    { packageName: '_x' },
    { packageName: 'alpha' },
    { packageName: 'beta', currentVersion: 'o' },
    { packageName: 'Beta', currentVersion: 'u' },
    { packageName: 'BETA', currentVersion: 'a' },
    { packageName: 'Zeta' },
    { packageName: 'Zeta' },
  ]);
});

test('mergePackages of the pip sample gives the order WASDI gives', (t) => {
  t.deepEqual(mergePackages(parsePackagesInfo(sample('sample_pip'))).map((p) => p.packageName),
    ['numpy', 'pip', 'rasterio', 'requests', 'scipy', 'Shapely', 'wasdi']);
  t.deepEqual(mergePackages({}), []);
});

test('toJavaForm writes every field, nulls included, as the Java writer does', (t) => {
  const form = toJavaForm(parsePackagesInfo(sample('sample_oneshot')));
  t.deepEqual(form.packageManager, { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 });
  t.deepEqual((form.uptodate as unknown[])[0], {
    managerName: 'pip', packageName: 'wasdi', currentVersion: '0.8.7.3', currentBuild: null, latestVersion: null, type: null, channel: null,
  });
  t.false('all' in form);
  const conda = toJavaForm(parsePackagesInfo(sample('sample_conda')));
  t.false('outdated' in conda);
  t.is((conda.all as unknown[]).length, 4);
  t.deepEqual(toJavaForm({}), { packageManager: null });
  t.deepEqual(toJavaForm({ outdated: [] }), { packageManager: null, outdated: [], uptodate: null });
});

test('toJavaForm round-trips through parsePackagesInfo for every sample and edge shape', (t) => {
  const shapes: PackagesInfo[] = [
    parsePackagesInfo(sample('sample_pip')),
    parsePackagesInfo(sample('sample_oneshot')),
    parsePackagesInfo(sample('sample_conda')),
    {},
    { packageManager: { major: 1, minor: 2, patch: 3 } },
    { uptodate: [{ packageName: 'only-name' }] },
    { outdated: [], uptodate: [], all: [] },
    { all: [{ packageName: 'x', currentVersion: '', channel: 'conda-forge' }] },
  ];
  for (const info of shapes) {
    const text = JSON.stringify(toJavaForm(info));
    t.deepEqual(parsePackagesInfo(text), info, text);
    // The merged list (what listPackages serves) is the same too.
    t.deepEqual(mergePackages(parsePackagesInfo(text)), mergePackages(info));
  }
});

test('managerVersionFrom splits pip -V and conda -V versions', (t) => {
  t.deepEqual(managerVersionFrom('pip', '22.0.2'), { name: 'pip', version: '22.0.2', major: 22, minor: 0, patch: 2 });
  t.deepEqual(managerVersionFrom('pip', '24.0'), { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 });
  t.deepEqual(managerVersionFrom('conda', '23.11.0'), { name: 'conda', version: '23.11.0', major: 23, minor: 11, patch: 0 });
  t.deepEqual(managerVersionFrom('pip', '25.1b1'), { name: 'pip', version: '25.1b1', major: 25, minor: 0, patch: 0 });
});

test('a package is outdated when it names a latest version other than the installed one', (t) => {
  t.true(isOutdated({ packageName: 'numpy', currentVersion: '1.24.4', latestVersion: '2.0.2' }));
  t.false(isOutdated({ packageName: 'numpy', currentVersion: '2.0.2', latestVersion: '2.0.2' }));
  t.false(isOutdated({ packageName: 'wasdi', currentVersion: '0.8.7.3' }), 'no latest version known');
  t.false(isOutdated({ packageName: 'wasdi', currentVersion: '0.8.7.3', latestVersion: '' }));
  // The samples: three of sample_pip's seven, one of sample_oneshot's three, none of sample_conda's `all` list.
  const count = (name: string) => mergePackages(parsePackagesInfo(sample(name))).filter(isOutdated).length;
  t.deepEqual([count('sample_pip'), count('sample_oneshot'), count('sample_conda')], [3, 1, 0]);
});
