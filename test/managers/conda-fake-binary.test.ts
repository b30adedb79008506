import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parseUpdateCommand } from '../../src/domain/update-command.ts';
import { CondaManager } from '../../src/managers/conda/conda-manager.ts';
import { ManagerError } from '../../src/managers/errors.ts';
import type { Environment } from '../../src/managers/types.ts';

/*
 * The conda manager's process handling, end to end, against a FAKE conda: a tiny shell script this test writes.
 * It installs nothing. It logs its arguments, answers each sub-command with a recorded output of the real tools
 * (test/fixtures/conda, see SOURCES.md) and exits with the status the test chose; `create` makes the prefix's
 * conda-meta folder as conda does. Real conda runs in conda-e2e.test.ts when a binary exists.
 */
const FAKE_SCRIPT = `#!/bin/sh
# FAKE conda / mamba / micromamba for procenv tests: answers from recorded outputs, installs nothing.
dir="$FAKE_CONDA_DIR"
for a in "$@"; do printf '%s\\037' "$a"; done >> "$dir/calls.log"
printf '\\n' >> "$dir/calls.log"
sub="$1"
[ "$sub" = "--version" ] && sub=version
status=0
[ -f "$dir/$sub.status" ] && status=$(cat "$dir/$sub.status")
if [ "$sub" = create ] && [ "$status" = 0 ]; then
  prev=""
  for a in "$@"; do
    [ "$prev" = "-p" ] && mkdir -p "$a/conda-meta"
    prev="$a"
  done
fi
[ -f "$dir/$sub.sleep" ] && sleep "$(cat "$dir/$sub.sleep")"
[ -f "$dir/$sub.out" ] && cat "$dir/$sub.out"
[ -f "$dir/$sub.err" ] && cat "$dir/$sub.err" >&2
exit "$status"
`;

const fixture = (name: string) => readFileSync(new URL(`../fixtures/conda/${name}`, import.meta.url), 'utf8');

interface Fake {
  root: string;
  bin: string;
  env: Environment;
  prefix: string;
  /** Sets what a sub-command (`install`, `version`, …) prints and its exit status. */
  answer(sub: string, answer: { out?: string; err?: string; status?: number; sleep?: number }): void;
  /** Every call so far, as argument arrays. */
  calls(): string[][];
  manager(options?: { name?: string; channels?: string[]; onPath?: boolean }): CondaManager;
}

function fake(): Fake {
  const root = mkdtempSync(join(tmpdir(), 'procenv-fake-conda-'));
  const bin = join(root, 'bin');
  const answers = join(root, 'answers');
  const folder = join(root, 'processors', 'sample_conda');
  mkdirSync(bin, { recursive: true });
  mkdirSync(answers);
  mkdirSync(folder, { recursive: true });
  const env: Environment = { processor: { processorId: 'p1', name: 'sample_conda', type: 'conda', userId: 'demo', isPublic: true }, folder };
  const self: Fake = {
    root,
    bin,
    env,
    prefix: join(folder, '.conda'),
    answer(sub, a) {
      if (a.out !== undefined) writeFileSync(join(answers, `${sub}.out`), a.out);
      if (a.err !== undefined) writeFileSync(join(answers, `${sub}.err`), a.err);
      if (a.status !== undefined) writeFileSync(join(answers, `${sub}.status`), String(a.status));
      if (a.sleep !== undefined) writeFileSync(join(answers, `${sub}.sleep`), String(a.sleep));
    },
    calls() {
      const log = join(answers, 'calls.log');
      if (!existsSync(log)) return [];
      return readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\x1f').slice(0, -1));
    },
    manager({ name = 'conda', channels = ['conda-forge'], onPath = false } = {}) {
      const script = join(bin, name);
      writeFileSync(script, FAKE_SCRIPT);
      chmodSync(script, 0o755);
      return new CondaManager({
        command: onPath ? name : script,
        envDir: '.conda',
        channels,
        env: { PATH: onPath ? `${bin}:${process.env.PATH ?? ''}` : (process.env.PATH ?? ''), FAKE_CONDA_DIR: answers },
      });
    },
  };
  // What the real tools print on success, unless a test says otherwise.
  self.answer('version', { out: fixture('conda-version.txt') });
  self.answer('list', { out: fixture('conda-list-qgist.json') });
  self.answer('install', { out: fixture('conda-install-progress-nul.txt') });
  self.answer('remove', { out: fixture('conda-remove-all-success.txt') });
  return self;
}

const withFake = test.macro(async (t, body: (t: ExecutionContext, f: Fake) => Promise<void>) => {
  const f = fake();
  try {
    await body(t, f);
  } finally {
    rmSync(f.root, { recursive: true, force: true });
  }
});

test('fake conda: apply creates the prefix environment once, then installs and removes in order', withFake, async (t, f) => {
  const manager = f.manager();
  await manager.apply(f.env, [parseUpdateCommand('addPackage/numpy/1.26.4/', 'conda'), parseUpdateCommand('removePackage/gdal/', 'conda')]);
  t.deepEqual(f.calls(), [
    ['create', '-y', '--json', '-p', f.prefix, '-c', 'conda-forge', 'python'],
    ['install', '-y', '--json', '-p', f.prefix, '-c', 'conda-forge', 'numpy=1.26.4'],
    ['remove', '-y', '--json', '-p', f.prefix, 'gdal'],
  ]);
  t.true(existsSync(join(f.prefix, 'conda-meta')));
  await manager.apply(f.env, [parseUpdateCommand('upgradePackage/numpy/', 'conda')]);
  t.deepEqual(f.calls().slice(3), [['update', '-y', '--json', '-p', f.prefix, '-c', 'conda-forge', 'numpy']]);
});

test('fake conda: snapshot is the version and conda list in WASDI\'s conda form', withFake, async (t, f) => {
  const info = await f.manager().snapshot(f.env);
  t.deepEqual(info, {
    packageManager: { name: 'conda', version: '24.5.0', major: 24, minor: 5, patch: 0 },
    all: [
      { managerName: 'conda', packageName: 'zlib', currentVersion: '1.2.11', currentBuild: 'h7b6447c_3', channel: 'pkgs/main' },
      { managerName: 'conda', packageName: 'zstd', currentVersion: '1.4.4', currentBuild: 'h3b9ef0a_1', channel: 'conda-forge' },
    ],
  });
  t.deepEqual(f.calls().map((c) => c[0]), ['--version', 'create', 'list']);
  t.deepEqual(f.calls()[2], ['list', '--json', '-p', f.prefix]);
});

test('fake conda: PackagesNotFoundError fails apply with conda\'s message and stops the remaining commands', withFake, async (t, f) => {
  f.answer('install', { out: fixture('conda-install-packages-not-found.json'), status: 1 });
  const err = await t.throwsAsync(f.manager().apply(f.env, [
    parseUpdateCommand('addPackage/foobarfooo/', 'conda'),
    parseUpdateCommand('removePackage/gdal/', 'conda'),
  ]), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_FAILED');
  t.true(err?.message.startsWith('conda install foobarfooo failed: PackagesNotFoundError: The following packages are not available'));
  t.deepEqual(f.calls().map((c) => c[0]), ['create', 'install']);
});

test('fake micromamba: a non-zero exit with libmamba errors on stderr fails with those lines', withFake, async (t, f) => {
  f.answer('install', { out: fixture('micromamba-install-nothing-to-do.json'), err: fixture('micromamba-install-libmamba-error.txt'), status: 1 });
  const err = await t.throwsAsync(f.manager({ name: 'micromamba' }).apply(f.env, [parseUpdateCommand('addPackage/faiss-gpu/', 'conda')]), { instanceOf: ManagerError });
  t.true(err?.message.startsWith('micromamba install faiss-gpu exited with status 1:\nerror    libmamba Could not solve for environment specs'));
});

test('fake conda: a failed create is ENVIRONMENT_FAILED and nothing is installed', withFake, async (t, f) => {
  f.answer('create', { out: fixture('conda-install-packages-not-found.json'), status: 1 });
  const err = await t.throwsAsync(f.manager().apply(f.env, [parseUpdateCommand('addPackage/numpy/', 'conda')]), { instanceOf: ManagerError });
  t.is(err?.code, 'ENVIRONMENT_FAILED');
  t.regex(err?.message ?? '', /^cannot create the conda environment: conda create failed: PackagesNotFoundError/);
  t.deepEqual(f.calls().map((c) => c[0]), ['create']);
});

test('fake conda: a command past the time limit is stopped and reported as COMMAND_TIMEOUT', withFake, async (t, f) => {
  f.answer('install', { sleep: 30 });
  const started = Date.now();
  const err = await t.throwsAsync(f.manager().apply(f.env, [parseUpdateCommand('addPackage/numpy/', 'conda')], { timeoutMs: 1500 }), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_TIMEOUT');
  t.true(Date.now() - started < 10_000, 'the sleeping fake was killed, not waited for');
});

test('fake conda: the time limit bounds the whole apply call, not each command alone', withFake, async (t, f) => {
  // Margins that hold on a loaded machine: each install (2 s of sleep plus starting the fake) fits in the limit alone.
  f.answer('install', { sleep: 2 });
  const commands = ['a', 'b', 'c'].map((n) => parseUpdateCommand(`addPackage/pkg-${n}/`, 'conda'));
  const err = await t.throwsAsync(f.manager().apply(f.env, commands, { timeoutMs: 5500 }), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_TIMEOUT');
  // Each install alone fits in the limit (a per-command limit would let all three succeed): the limit spanned
  // several commands and stopped a later one.
  const installs = f.calls().filter((c) => c[0] === 'install').length;
  t.true(installs >= 2, `${installs} installs started`);
});

test('fake conda: an aborted signal cancels the running command as COMMAND_CANCELLED', withFake, async (t, f) => {
  f.answer('install', { sleep: 30 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1000);
  const err = await t.throwsAsync(f.manager().apply(f.env, [parseUpdateCommand('addPackage/numpy/', 'conda')], { signal: controller.signal }), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_CANCELLED');
});

test('fake conda: output lines reach onLine without conda\'s NUL record separators', withFake, async (t, f) => {
  const lines: { stream: string; line: string }[] = [];
  await f.manager().apply(f.env, [parseUpdateCommand('addPackage/pandas/', 'conda')], { onLine: (stream, line) => lines.push({ stream, line }) });
  const stdout = lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
  t.true(stdout.includes('{"fetch":"mkl-2021.4.0         | 142.6 MB  | ","finished":false,"maxval":1,"progress":0.009860}'));
  t.false(stdout.some((l) => l.includes('\0')));
});

test('fake micromamba found by name on the PATH of the child environment reports its bare version', withFake, async (t, f) => {
  f.answer('version', { out: fixture('micromamba-2.1.1-version.txt') });
  const version = await f.manager({ name: 'micromamba', onPath: true }).version(f.env);
  t.deepEqual(version, { name: 'micromamba', version: '2.1.1', major: 2, minor: 1, patch: 1 });
});

test('a conda command that does not exist is COMMAND_NOT_FOUND', async (t) => {
  const manager = new CondaManager({ command: '/nonexistent/procenv/conda', envDir: '.conda', channels: [], env: { PATH: '/usr/bin' } });
  const err = await t.throwsAsync(manager.version({ processor: { processorId: 'p', name: 'x', type: 'conda', userId: 'u', isPublic: false }, folder: tmpdir() }), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_NOT_FOUND');
});

test('fake conda: an invalid command is refused before any process starts', withFake, async (t, f) => {
  await t.throwsAsync(f.manager().apply(f.env, [{ action: 'addPackage', name: 'numpy', version: '>=1' }]));
  t.deepEqual(f.calls(), []);
  t.false(existsSync(f.prefix));
});

test('fake conda: a dry run lays conda\'s LINK and UNLINK over the installed set; exact pins install with --no-deps', withFake, async (t, f) => {
  f.answer('install', { out: fixture('conda-install-dry-run-success.json') });
  const manager = f.manager();
  const installed = [
    { name: 'certifi', version: '2019.11.28', build: 'py37_0', channel: 'pkgs/main' },
    { name: 'openssl', version: '1.1.1d', build: 'h7b6447c_4', channel: 'pkgs/main' },
    { name: 'ca-certificates', version: '2020.1.1', build: '0', channel: 'pkgs/main' },
    { name: 'zlib', version: '1.2.11', build: 'h7b6447c_3', channel: 'pkgs/main' },
  ];
  const dry = await manager.dryRun(f.env, [parseUpdateCommand('addPackage/pandas/', 'conda')], installed);
  const byName = Object.fromEntries(dry.packages.map((p) => [p.name, `${p.version}=${p.build}@${p.channel}`]));
  t.deepEqual(byName, {
    zlib: '1.2.11=h7b6447c_3@pkgs/main', 'ca-certificates': '2019.11.28=hecc5488_0@conda-forge', openssl: '1.1.1e=h516909a_0@conda-forge',
    python_abi: '3.7=1_cp37m@conda-forge', certifi: '2019.11.28=py37hc8dfbb8_1@conda-forge', pandas: '1.0.3=py37h0da4684_0@conda-forge',
  });
  t.deepEqual(dry.orphaned, []);
  const plan = f.calls().find((c) => c.includes('--dry-run'));
  t.deepEqual(plan, ['install', '-y', '--json', '--dry-run', '-p', f.prefix, '-c', 'conda-forge', 'pandas']);
  await manager.apply(f.env, [parseUpdateCommand('upgradePackage/openssl/1.1.1d/', 'conda'), parseUpdateCommand('removePackage/pandas/', 'conda')], {}, { exact: true });
  t.deepEqual(f.calls().slice(-2), [
    ['install', '-y', '--json', '--no-deps', '-p', f.prefix, '-c', 'conda-forge', 'openssl=1.1.1d'],
    ['remove', '-y', '--json', '-p', f.prefix, 'pandas'],
  ]);
});
