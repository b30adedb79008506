import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { loadConfig } from '../../src/config/load.ts';
import type { ConfigKey } from '../../src/config/schema.ts';
import { InvalidInputError } from '../../src/domain/errors.ts';
import type { UpdateCommand } from '../../src/domain/update-command.ts';
import { ManagerError } from '../../src/managers/errors.ts';
import { PipManager } from '../../src/managers/pip/pip-manager.ts';
import type { Environment } from '../../src/managers/types.ts';
import { cleanPipEnv, createTemplateVenv, installedPackages, processesMentioning, throttledTest, type TemplateVenv } from '../helpers/pip-env.ts';
import { buildWheel, startIndexServer, startSilentServer } from '../helpers/wheels.ts';

const run = promisify(execFile);

// Two tests at a time: each starts several pip processes, and this machine may be small and busy.
const test = throttledTest(2);

let template: TemplateVenv;
let wheels: string;
let wheelsRoot: string;

test.before(async () => {
  wheelsRoot = await mkdtemp(join(tmpdir(), 'procenv-wheels-'));
  wheels = join(wheelsRoot, 'wheels');
  await mkdir(wheels);
  [template] = await Promise.all([
    createTemplateVenv(),
    buildWheel(wheels, 'demo-pkg', '1.0'),
    buildWheel(wheels, 'demo-pkg', '2.0'),
    buildWheel(wheels, 'helper-lib', '1.0'),
    buildWheel(wheels, 'needs-demo', '1.0', { requires: ['demo-pkg>=2'] }),
  ]);
});

test.after.always(async () => {
  await template?.remove();
  await rm(wheelsRoot, { recursive: true, force: true });
});

interface Setup {
  manager: PipManager;
  env: Environment;
  venv: string;
  lines: string[];
  onLine: (stream: 'stdout' | 'stderr', line: string) => void;
}

/**
 * A processor folder with a copy of the template venv, and a PipManager over it. By default pip sees only the
 * local wheels (`--no-index --find-links`); PIP_RETRIES=0 keeps a test with an unreachable index short.
 */
async function setup(t: ExecutionContext, overrides: Partial<Record<ConfigKey, unknown>> = {}, extraEnv: Record<string, string> = {}): Promise<Setup> {
  const root = await mkdtemp(join(tmpdir(), 'procenv-pip-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const folder = join(root, 'proc');
  await mkdir(folder);
  const venv = join(folder, '.venv');
  await template.copyTo(venv);
  const config = loadConfig({ env: {}, overrides: { 'pip.noIndex': true, 'pip.findLinks': [wheels], ...overrides } });
  const manager = PipManager.fromConfig(config, cleanPipEnv({ PIP_RETRIES: '0', ...extraEnv }));
  const env: Environment = { folder, processor: { processorId: 'p-1', name: 'proc', type: 'python_pip_2', userId: 'u', isPublic: false } };
  const lines: string[] = [];
  return { manager, env, venv, lines, onLine: (_s, line) => lines.push(line) };
}

const add = (name: string, version?: string): UpdateCommand => (version ? { action: 'addPackage', name, version } : { action: 'addPackage', name });

async function moduleVersion(venv: string, module: string): Promise<string> {
  const { stdout } = await run(join(venv, 'bin', 'python'), ['-c', `import ${module}; print(${module}.__version__)`], { env: cleanPipEnv() });
  return stdout.trim();
}

test('addPackage installs the latest version from the configured find-links, and every pip line reaches onLine', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('demo-pkg')], { onLine: s.onLine });
  t.is((await installedPackages(s.venv))['demo-pkg'], '2.0');
  t.is(await moduleVersion(s.venv, 'demo_pkg'), '2.0');
  t.true(s.lines.includes('Successfully installed demo-pkg-2.0'), s.lines.join('\n'));
});

test('addPackage with a version installs exactly that version, with its dependencies', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('demo-pkg', '1.0')]);
  t.is((await installedPackages(s.venv))['demo-pkg'], '1.0');
  await s.manager.apply(s.env, [add('needs-demo')]);
  const installed = await installedPackages(s.venv);
  t.is(installed['needs-demo'], '1.0');
  t.is(installed['demo-pkg'], '2.0', 'the dependency demo-pkg>=2 was upgraded');
});

test('addPackage of an installed package succeeds and changes nothing; upgradePackage moves it to the latest', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('demo-pkg', '1.0')]);
  // pip answers "Requirement already satisfied" with exit 0: a success (WASDI's server answered 409).
  await s.manager.apply(s.env, [add('demo-pkg')], { onLine: s.onLine });
  t.true(s.lines.some((l) => l.startsWith('Requirement already satisfied: demo-pkg')));
  t.is((await installedPackages(s.venv))['demo-pkg'], '1.0');
  await s.manager.apply(s.env, [{ action: 'upgradePackage', name: 'demo-pkg' }]);
  t.is((await installedPackages(s.venv))['demo-pkg'], '2.0');
});

test('upgradePackage with a version installs that version, with extras in the name', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('demo-pkg', '2.0')]);
  await s.manager.apply(s.env, [{ action: 'upgradePackage', name: 'demo-pkg[fast]', version: '1.0' }]);
  t.is((await installedPackages(s.venv))['demo-pkg'], '1.0');
});

test('removePackage uninstalls; removing a package that is not installed succeeds with pip\'s warning', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('demo-pkg', '1.0')]);
  await s.manager.apply(s.env, [{ action: 'removePackage', name: 'Demo_Pkg' }]);
  t.false('demo-pkg' in (await installedPackages(s.venv)));
  await s.manager.apply(s.env, [{ action: 'removePackage', name: 'demo-pkg' }], { onLine: s.onLine });
  t.true(s.lines.some((l) => /WARNING: Skipping demo-pkg as it is not installed/i.test(l)), s.lines.join('\n'));
});

test('a batch of three commands runs in order', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('demo-pkg', '1.0'), add('helper-lib'), { action: 'removePackage', name: 'demo-pkg' }]);
  const installed = await installedPackages(s.venv);
  t.is(installed['helper-lib'], '1.0');
  t.false('demo-pkg' in installed);
});

test('a version that does not exist fails with pip\'s own error lines, and the batch stops there', async (t) => {
  const s = await setup(t);
  const err = await t.throwsAsync(
    s.manager.apply(s.env, [add('helper-lib'), add('demo-pkg', '9.9'), add('demo-pkg', '1.0')]),
    { instanceOf: ManagerError },
  );
  t.is(err?.code, 'COMMAND_FAILED');
  t.regex(err!.message, /pip install demo-pkg==9\.9 failed \(exit status 1\)/);
  t.regex(err!.message, /ERROR: No matching distribution found for demo-pkg==9\.9/);
  t.like(err!.details, { updateCommand: 'addPackage/demo-pkg/9.9/', index: 1, exitCode: 1 });
  const installed = await installedPackages(s.venv);
  t.is(installed['helper-lib'], '1.0', 'the command before the failure stays applied');
  t.false('demo-pkg' in installed, 'the command after the failure did not run');
});

test('commands are checked before any runs: an archive-like name or removing pip is refused', async (t) => {
  const s = await setup(t);
  for (const bad of [add('evil.tar.gz'), add('x.whl'), { action: 'removePackage', name: 'pip' } as UpdateCommand]) {
    const err = await t.throwsAsync(s.manager.apply(s.env, [add('helper-lib'), bad]), { instanceOf: InvalidInputError });
    t.is(err?.code, 'INVALID_UPDATE_COMMAND');
  }
  t.false('helper-lib' in (await installedPackages(s.venv)));
});

test('snapshot lists outdated packages with latest version and type, the others as up to date', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('demo-pkg', '1.0'), add('helper-lib')]);
  const info = await s.manager.snapshot(s.env);
  const installed = await installedPackages(s.venv);
  const pip = installed.pip!;
  t.deepEqual(info.packageManager, { name: 'pip', version: pip, major: Number(pip.split('.')[0]), minor: Number(pip.split('.')[1]), patch: Number(pip.split('.')[2] ?? 0) });
  t.deepEqual(info.outdated, [{ managerName: 'pip', packageName: 'demo-pkg', currentVersion: '1.0', latestVersion: '2.0', type: 'wheel', requested: true }]);
  const uptodate = info.uptodate ?? [];
  t.deepEqual(uptodate.find((p) => p.packageName === 'helper-lib'), { managerName: 'pip', packageName: 'helper-lib', currentVersion: '1.0', requested: true });
  t.deepEqual(
    uptodate.map((p) => p.packageName).sort(),
    Object.keys(installed).filter((n) => n !== 'demo-pkg').sort(),
    'every installed package but the outdated one is up to date',
  );
  t.is(info.all, undefined);
});

test('snapshot tells the packages asked for by name from those that came in as a dependency (pip\'s REQUESTED marker)', async (t) => {
  const s = await setup(t);
  await s.manager.apply(s.env, [add('needs-demo')]);
  const info = await s.manager.snapshot(s.env);
  const byName = Object.fromEntries([...info.outdated ?? [], ...info.uptodate ?? []].map((p) => [p.packageName, p]));
  t.like(byName['needs-demo'], { currentVersion: '1.0', requested: true });
  t.like(byName['demo-pkg'], { currentVersion: '2.0', requested: false });
  // pip writes the marker when it installs: asking for the dependency by name once it is there changes nothing.
  await s.manager.apply(s.env, [add('demo-pkg')]);
  const again = await s.manager.snapshot(s.env);
  t.is(again.uptodate?.find((p) => p.packageName === 'demo-pkg')?.requested, false);
});

test('snapshot still answers every package when pip list --outdated fails, with a warning line', async (t) => {
  // A misconfigured index URL (port out of range) makes pip list --outdated crash (exit 2) without any network
  // traffic; pip list itself takes no index options and still answers.
  const s = await setup(t, { 'pip.noIndex': false, 'pip.findLinks': [], 'pip.indexUrl': 'http://127.0.0.1:99999/simple' });
  const info = await s.manager.snapshot(s.env, { onLine: s.onLine });
  t.deepEqual(info.outdated, []);
  const installed = await installedPackages(s.venv);
  t.deepEqual(info.uptodate?.map((p) => p.packageName).sort(), Object.keys(installed).sort());
  t.true(info.uptodate!.every((p) => p.managerName === 'pip' && p.currentVersion === installed[p.packageName]));
  t.true(s.lines.some((l) => /^WARNING: procenv: newer versions unknown.*pip list --outdated failed/.test(l)), s.lines.join('\n'));
});

test('snapshot fails with COMMAND_CANCELLED when cancelled, even during pip list --outdated', async (t) => {
  const silent = await startSilentServer();
  t.teardown(() => silent.close());
  const s = await setup(t, { 'pip.noIndex': false, 'pip.findLinks': [], 'pip.indexUrl': silent.url });
  const controller = new AbortController();
  const poll = setInterval(() => {
    if (silent.connections > 0) controller.abort();
  }, 20);
  t.teardown(() => clearInterval(poll));
  const err = await t.throwsAsync(s.manager.snapshot(s.env, { signal: controller.signal }), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_CANCELLED');
  t.true(silent.connections > 0, 'the cancel came while pip list --outdated waited on the index');
});

test('version answers pip --version of the venv', async (t) => {
  const s = await setup(t);
  const version = await s.manager.version(s.env);
  const { stdout } = await run(join(s.venv, 'bin', 'python'), ['-m', 'pip', '--version'], { env: cleanPipEnv() });
  t.is(version.name, 'pip');
  t.is(version.version, stdout.split(' ')[1]);
  t.is(version.major, Number(version.version!.split('.')[0]));
});

test('an install that outlives timeoutMs fails with COMMAND_TIMEOUT and leaves no pip process', async (t) => {
  const silent = await startSilentServer();
  t.teardown(() => silent.close());
  const s = await setup(t, { 'pip.noIndex': false, 'pip.findLinks': [], 'pip.indexUrl': silent.url });
  const started = Date.now();
  const err = await t.throwsAsync(s.manager.apply(s.env, [add('demo-pkg')], { timeoutMs: 1500 }), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_TIMEOUT');
  // pip on its own would wait for the index for 15 s (its default socket timeout) and then fail.
  t.true(Date.now() - started < 12_000, `took ${Date.now() - started} ms`);
  t.deepEqual(await processesMentioning(s.venv), []);
});

test('an abort mid-install fails with COMMAND_CANCELLED, installs nothing and leaves no pip process', async (t) => {
  const silent = await startSilentServer();
  t.teardown(() => silent.close());
  const s = await setup(t, { 'pip.noIndex': false, 'pip.findLinks': [], 'pip.indexUrl': silent.url });
  const controller = new AbortController();
  const started = Date.now();
  const err = await t.throwsAsync(s.manager.apply(s.env, [add('demo-pkg'), add('helper-lib')], {
    signal: controller.signal,
    onLine: (_s, line) => {
      if (line.startsWith('Looking in indexes')) controller.abort();
    },
  }), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_CANCELLED');
  t.true(Date.now() - started < 12_000, `took ${Date.now() - started} ms`);
  t.deepEqual(await processesMentioning(s.venv), []);
  t.false('demo-pkg' in (await installedPackages(s.venv)));
});

test('--index-url from config reaches pip: the install comes from the local PEP 503 index', async (t) => {
  const index = await startIndexServer(wheels);
  t.teardown(() => index.close());
  const s = await setup(t, { 'pip.noIndex': false, 'pip.findLinks': [], 'pip.indexUrl': index.url });
  await s.manager.apply(s.env, [add('demo-pkg', '1.0')]);
  t.is((await installedPackages(s.venv))['demo-pkg'], '1.0');
  t.true(index.requests.includes('/simple/demo-pkg/'));
  t.true(index.requests.includes('/files/demo_pkg-1.0-py3-none-any.whl'));
  // list --outdated asks the same index.
  const info = await s.manager.snapshot(s.env);
  t.deepEqual(info.outdated?.map((p) => [p.packageName, p.latestVersion]), [['demo-pkg', '2.0']]);
});

test('--no-index without find-links fails without looking anywhere: config options, not pip defaults, decide', async (t) => {
  const s = await setup(t, { 'pip.noIndex': true, 'pip.findLinks': [] });
  const err = await t.throwsAsync(s.manager.apply(s.env, [add('demo-pkg')], { onLine: s.onLine }), { instanceOf: ManagerError });
  t.regex(err!.message, /No matching distribution found for demo-pkg/);
  t.false(s.lines.some((l) => /Looking in|Retrying/.test(l)), s.lines.join('\n'));
});

test('pip\'s own PIP_* variables in the manager environment reach pip unchanged', async (t) => {
  const s = await setup(t, { 'pip.noIndex': false, 'pip.findLinks': [] }, { PIP_NO_INDEX: '1', PIP_FIND_LINKS: wheels });
  await s.manager.apply(s.env, [add('helper-lib')]);
  t.is((await installedPackages(s.venv))['helper-lib'], '1.0');
});

test('credentials in an index URL reach neither the output lines nor the error', async (t) => {
  const index = await startIndexServer(wheels);
  t.teardown(() => index.close());
  const s = await setup(t, { 'pip.noIndex': false, 'pip.findLinks': [], 'pip.indexUrl': index.url.replace('http://', 'http://user:s3cret-token@') });
  await s.manager.apply(s.env, [add('helper-lib')], { onLine: s.onLine });
  const err = await t.throwsAsync(s.manager.apply(s.env, [add('demo-pkg', '9.9')], { onLine: s.onLine }), { instanceOf: ManagerError });
  t.true(s.lines.length > 0);
  t.false(s.lines.some((l) => l.includes('s3cret-token')), s.lines.join('\n'));
  t.false(err!.message.includes('s3cret-token'));
});
