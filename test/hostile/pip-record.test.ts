import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import anyTest, { type ExecutionContext } from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import { uninstallRecordProblem } from '../../src/managers/pip/pip-records.ts';
import { cleanPipEnv, createTemplateVenv, installedPackages, throttledTest, type TemplateVenv } from '../helpers/pip-env.ts';
import { buildWheel } from '../helpers/wheels.ts';
import { hostileService, pollUntil, SAMPLES, writeProcessorFolder, type HostileService } from './support.ts';

// A venv in a processor folder is tenant input, uninstall records included: a RECORD listing paths into another
// tenant's venv must never reach pip, whose uninstall deletes what the record lists.

const run = promisify(execFile);
const test = throttledTest(2);

let template: TemplateVenv;
let wheels: string;

anyTest.before(async () => {
  wheels = mkdtempSync(join(tmpdir(), 'procenv-record-wheels-'));
  [template] = await Promise.all([createTemplateVenv(), buildWheel(wheels, 'victim-pkg', '1.0')]);
});

anyTest.after.always(async () => {
  await template?.remove();
  rmSync(wheels, { recursive: true, force: true });
});

function sitePackages(venv: string): string {
  const python = readdirSync(join(venv, 'lib')).find((d) => d.startsWith('python'))!;
  return join(venv, 'lib', python, 'site-packages');
}

/** Every file victim-pkg's own RECORD lists, absolute. */
function victimFiles(victimVenv: string): string[] {
  const site = sitePackages(victimVenv);
  const record = readFileSync(join(site, 'victim_pkg-1.0.dist-info', 'RECORD'), 'utf8');
  return record.split('\n').filter(Boolean).map((line) => join(site, line.split(',')[0]!));
}

/** A distribution installed by hand, as an uploaded archive can carry one: METADATA and the given RECORD rows. */
function forgeDistribution(site: string, name: string, rows: string[]): string {
  const info = join(site, `${name}-1.0.dist-info`);
  mkdirSync(info);
  writeFileSync(join(info, 'METADATA'), `Metadata-Version: 2.1\nName: ${name}\nVersion: 1.0\n`);
  writeFileSync(join(info, 'INSTALLER'), 'pip\n');
  writeFileSync(join(info, 'RECORD'), [...rows, `${name}-1.0.dist-info/METADATA,,`, `${name}-1.0.dist-info/INSTALLER,,`, `${name}-1.0.dist-info/RECORD,,`, ''].join('\n'));
  return info;
}

/** A service whose sample_pip (the victim) has victim-pkg installed, and mallory's processor with a real venv. */
async function setUp(t: ExecutionContext): Promise<{ svc: HostileService; victimVenv: string; malloryVenv: string; mallory: string }> {
  const svc = await hostileService(t, { 'pip.noIndex': true, 'pip.findLinks': [wheels] }, { managerEnv: cleanPipEnv() });
  const victimVenv = join(svc.catalog.folderOf(SAMPLES.pip.name), '.venv');
  await template.copyTo(victimVenv);
  await run(join(victimVenv, 'bin', 'python'), ['-m', 'pip', 'install', '--no-index', '--find-links', wheels, 'victim-pkg'], { env: cleanPipEnv() });
  const folder = writeProcessorFolder(svc.config.processorsDir, 'mallory_app', { processorId: 'mal-1', type: 'python_pip_2', userId: 'mallory', isPublic: 0 });
  const malloryVenv = join(folder, '.venv');
  await template.copyTo(malloryVenv);
  const mallory = await svc.login('mallory');
  const registered = await pollUntil(() => svc.get('packageManager/listPackages', mallory, { name: 'mallory_app' }), (r) => r.status === 200, { timeoutMs: 10_000 });
  t.is(registered.value.status, 200);
  return { svc, victimVenv, malloryVenv, mallory };
}

async function update(t: ExecutionContext, svc: HostileService, token: string, updateCommand: string): Promise<Operation> {
  const res = await svc.get('packageManager/environmentupdate', token, { processorId: 'mal-1', workspace: '-', updateCommand });
  t.is(res.status, 200, JSON.stringify(res.body));
  const { value } = await pollUntil(() => svc.get(`operations/${res.body.processObjId}`, token), (r) => ['DONE', 'ERROR', 'STOPPED'].includes(r.body?.status), { timeoutMs: 90_000, intervalMs: 200 });
  return value.body as Operation;
}

async function assertVictimIntact(t: ExecutionContext, victimVenv: string, files: string[]): Promise<void> {
  t.deepEqual(files.filter((f) => !existsSync(f)), []);
  t.is((await installedPackages(victimVenv))['victim-pkg'], '1.0');
  const { stdout } = await run(join(victimVenv, 'bin', 'python'), ['-c', 'import victim_pkg; print(victim_pkg.__version__)'], { env: cleanPipEnv() });
  t.is(stdout.trim(), '1.0');
}

test('removePackage of a dist whose RECORD lists ../ paths into another venv is refused, and nothing is deleted', async (t) => {
  const { svc, victimVenv, malloryVenv, mallory } = await setUp(t);
  const files = victimFiles(victimVenv);
  const site = sitePackages(malloryVenv);
  const forged = forgeDistribution(site, 'forged_pkg', files.map((f) => `${relative(site, f)},,`));

  const op = await update(t, svc, mallory, 'removePackage/forged_pkg/');
  t.is(op.status, 'ERROR');
  t.is(op.error?.code, 'ENVIRONMENT_REFUSED');
  t.regex(op.error?.message ?? '', /forged_pkg-1\.0\.dist-info: RECORD lists "\.\.\/.*victim_pkg.*", which resolves outside the processor folder/);
  await assertVictimIntact(t, victimVenv, files);
  // pip never ran: the forged distribution itself is still there too.
  t.deepEqual(readdirSync(forged).sort(), ['INSTALLER', 'METADATA', 'RECORD']);
});

test('addPackage is refused too when any installed dist\'s RECORD lists an absolute path outside', async (t) => {
  const { svc, victimVenv, malloryVenv, mallory } = await setUp(t);
  const files = victimFiles(victimVenv);
  // Not the package asked for: an install can uninstall any dist the resolver replaces, so all are checked.
  forgeDistribution(sitePackages(malloryVenv), 'bystander', files.map((f) => `"${f}",sha256=x,1`));

  const op = await update(t, svc, mallory, 'addPackage/victim-pkg/');
  t.is(op.status, 'ERROR');
  t.is(op.error?.code, 'ENVIRONMENT_REFUSED');
  t.regex(op.error?.message ?? '', /bystander-1\.0\.dist-info: RECORD lists "\/.*", which resolves outside the processor folder/);
  await assertVictimIntact(t, victimVenv, files);
  t.false('victim-pkg' in (await installedPackages(malloryVenv)));
});

test('a clean venv passes: add, upgrade and remove run as usual', async (t) => {
  const { svc, malloryVenv, mallory } = await setUp(t);
  await Promise.all([buildWheel(wheels, 'honest-pkg', '1.0'), buildWheel(wheels, 'honest-pkg', '2.0')]);
  t.is((await update(t, svc, mallory, 'addPackage/honest-pkg/1.0')).status, 'DONE');
  t.is(await uninstallRecordProblem(join(malloryVenv, '..'), malloryVenv), undefined);
  t.is((await update(t, svc, mallory, 'upgradePackage/honest-pkg/2.0')).status, 'DONE');
  t.is((await installedPackages(malloryVenv))['honest-pkg'], '2.0');
  t.is((await update(t, svc, mallory, 'removePackage/honest-pkg/')).status, 'DONE');
  t.false('honest-pkg' in (await installedPackages(malloryVenv)));
});

test('legacy installed-files.txt, top_level.txt and console script names are judged as pip reads them', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'procenv-record-legacy-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const outside = mkdtempSync(join(tmpdir(), 'procenv-record-outside-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  const venv = join(folder, '.venv');
  const site = join(venv, 'lib', 'python3.11', 'site-packages');
  const egg = join(site, 'old_pkg-1.0-py3.11.egg-info');
  mkdirSync(egg, { recursive: true });
  mkdirSync(join(venv, 'bin'));

  writeFileSync(join(egg, 'installed-files.txt'), '../old_pkg/__init__.py\n');
  t.is((await uninstallRecordProblem(folder, venv)), undefined);
  writeFileSync(join(egg, 'installed-files.txt'), `../old_pkg/__init__.py\n${outside}/x.py\n`);
  t.regex((await uninstallRecordProblem(folder, venv)) ?? '', /old_pkg-1\.0-py3\.11\.egg-info: installed-files\.txt lists ".*x\.py"/);

  rmSync(join(egg, 'installed-files.txt'));
  writeFileSync(join(egg, 'top_level.txt'), `old_pkg\n${relative(site, outside)}\n`);
  t.regex((await uninstallRecordProblem(folder, venv)) ?? '', /top_level\.txt lists/);

  writeFileSync(join(egg, 'top_level.txt'), 'old_pkg\n');
  writeFileSync(join(egg, 'entry_points.txt'), '[console_scripts]\nold = old_pkg:main\n[other]\n../../../x = ignored:main\n');
  t.is((await uninstallRecordProblem(folder, venv)), undefined, 'only script sections name files');
  writeFileSync(join(egg, 'entry_points.txt'), `[console_scripts]\nold = old_pkg:main\n${'../'.repeat(12)}${outside.slice(1)}/x = old_pkg:main\n`);
  t.regex((await uninstallRecordProblem(folder, venv)) ?? '', /entry_points\.txt lists/);
});

test('a RECORD entry under a folder that is a link out (deeper than site-packages\' own entries) is refused', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'procenv-record-link-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const outside = mkdtempSync(join(tmpdir(), 'procenv-record-outside-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  writeFileSync(join(outside, 'victim.py'), 'x = 1\n');
  const venv = join(folder, '.venv');
  const site = join(venv, 'lib', 'python3.11', 'site-packages');
  mkdirSync(join(site, 'pkg', 'sub'), { recursive: true });
  forgeDistribution(site, 'pkg', ['pkg/__init__.py,,', 'pkg/sub/victim.py,,']);
  t.is(await uninstallRecordProblem(folder, venv), undefined);
  rmSync(join(site, 'pkg', 'sub'), { recursive: true });
  symlinkSync(outside, join(site, 'pkg', 'sub'));
  t.regex((await uninstallRecordProblem(folder, venv)) ?? '', /pkg-1\.0\.dist-info: RECORD lists "pkg\/sub\/victim\.py", which resolves outside/);
});
