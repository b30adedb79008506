import { execFile, execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import anyTest, { type ExecutionContext } from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import { cleanPipEnv, createTemplateVenv, installedPackages, throttledTest, type TemplateVenv } from '../helpers/pip-env.ts';
import { buildWheel } from '../helpers/wheels.ts';
import { hostileService, pollUntil, problems, SAMPLES, writeProcessorFolder, type HostileService } from './support.ts';

// A processor folder is built from an archive a tenant uploaded: every file in it may be a link out of the folder,
// a FIFO, or name a binary. procenv must serve and change nothing outside the folder, and never block on a file.

const run = promisify(execFile);
const test = throttledTest(2);
const DEADLINE_MS = 10_000;

let template: TemplateVenv;
let wheels: string;

anyTest.before(async () => {
  wheels = mkdtempSync(join(tmpdir(), 'procenv-hostile-wheels-'));
  [template] = await Promise.all([createTemplateVenv(), buildWheel(wheels, 'victim-pkg', '1.0')]);
});

anyTest.after.always(async () => {
  await template?.remove();
  rmSync(wheels, { recursive: true, force: true });
});

/** A secret file outside every processor folder (another tenant's, the service's own). */
function secretFile(t: ExecutionContext, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-secret-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'secret.txt');
  writeFileSync(file, content);
  return file;
}

async function adminAndOwner(svc: HostileService): Promise<{ admin: string; owner: string }> {
  return { admin: await svc.login('root-admin', { admin: true }), owner: await svc.login('demo') };
}

test('envActionsList.txt linked to a file outside is refused: none of its lines is served, and admins see why', async (t) => {
  const svc = await hostileService(t, {}, { worker: false });
  const { admin, owner } = await adminAndOwner(svc);
  const reader = await svc.login('reader');
  const secret = secretFile(t, 'addPackage/TOP-SECRET-LINE/\n');
  const history = join(svc.config.processorsDir, SAMPLES.pip.name, 'envActionsList.txt');
  rmSync(history, { force: true });
  symlinkSync(secret, history);

  const res = await svc.get('packageManager/environmentActions', reader, { name: SAMPLES.pip.name });
  t.is(res.status, 500);
  t.is(res.body.error.code, 'HISTORY_UNREADABLE');
  t.regex(res.body.error.message, /symbolic link/);
  t.false(JSON.stringify(res.body).includes('TOP-SECRET'));
  t.is(readFileSync(secret, 'utf8'), 'addPackage/TOP-SECRET-LINE/\n');

  const listed = await problems(svc, admin);
  t.true(listed.some((p) => p.folder === SAMPLES.pip.name && p.file === 'envActionsList.txt' && /symbolic link/.test(p.reason)), JSON.stringify(listed));
  t.is((await svc.get('catalog/problems', owner)).status, 403);
  t.is(svc.logs.filter((l) => l.msg === 'processor folder refused' && l.file === 'envActionsList.txt').length, 1);
});

test('packagesInfo.json linked to a file outside is refused with the reason, and its target is not served', async (t) => {
  const svc = await hostileService(t, {}, { worker: false });
  const { owner } = await adminAndOwner(svc);
  const secret = secretFile(t, JSON.stringify({ uptodate: [{ managerName: 'pip', packageName: 'TOP-SECRET-PKG', currentVersion: '1.0' }] }));
  const info = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  rmSync(info);
  symlinkSync(secret, info);
  // The watcher sees the swap; the answer turns from the old snapshot to the refusal.
  const { value } = await pollUntil(() => svc.get('packageManager/listPackages', owner, { name: SAMPLES.pip.name }), (r) => r.status !== 200 || JSON.stringify(r.body).includes('TOP-SECRET'), { timeoutMs: DEADLINE_MS });
  t.is(value.status, 500);
  t.is(value.body.error.code, 'SNAPSHOT_UNREADABLE');
  t.regex(value.body.error.message, /packagesInfo\.json is refused: packagesInfo\.json is a symbolic link/);
  t.false(JSON.stringify(value.body).includes('TOP-SECRET'));
});

test('packagesInfo.json hard-linked to a file outside is refused as well', async (t) => {
  const svc = await hostileService(t, {}, { worker: false });
  const { owner } = await adminAndOwner(svc);
  const secret = secretFile(t, JSON.stringify({ uptodate: [{ managerName: 'pip', packageName: 'TOP-SECRET-PKG', currentVersion: '1.0' }] }));
  const info = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  rmSync(info);
  linkSync(secret, info);
  const { value } = await pollUntil(() => svc.get('packageManager/listPackages', owner, { name: SAMPLES.pip.name }), (r) => r.status !== 200 || JSON.stringify(r.body).includes('TOP-SECRET'), { timeoutMs: DEADLINE_MS });
  t.is(value.status, 500);
  t.regex(value.body.error.message, /hard link/);
  t.false(JSON.stringify(value.body).includes('TOP-SECRET'));
});

test('a FIFO as packagesInfo.json or processor.json blocks nothing: other processors keep answering', async (t) => {
  const svc = await hostileService(t, {}, { worker: false });
  const { admin, owner } = await adminAndOwner(svc);
  const info = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  rmSync(info);
  execFileSync('mkfifo', [info]);
  const fifoApp = join(svc.config.processorsDir, 'fifo_app');
  mkdirSync(fifoApp);
  execFileSync('mkfifo', [join(fifoApp, 'processor.json')]);

  const fifo = await pollUntil(() => svc.get('packageManager/listPackages', owner, { name: SAMPLES.pip.name }), (r) => r.status === 500, { timeoutMs: DEADLINE_MS });
  t.is(fifo.value.body.error.code, 'SNAPSHOT_UNREADABLE');
  t.regex(fifo.value.body.error.message, /a FIFO/);
  const listed = await pollUntil(() => problems(svc, admin), (ps) => ps.some((p) => p.folder === 'fifo_app'), { timeoutMs: DEADLINE_MS });
  t.true(listed.value.some((p) => p.folder === 'fifo_app' && p.file === 'processor.json' && /a FIFO/.test(p.reason)), JSON.stringify(listed.value));
  // The service still answers every other processor, promptly.
  const other = await svc.get('packageManager/listPackages', owner, { name: SAMPLES.conda.name });
  t.is(other.status, 200);
  t.true(other.ms < 3000, `listPackages of another processor took ${Math.round(other.ms)} ms`);
  t.is((await svc.get('packageManager/listPackages', owner, { name: 'fifo_app' })).status, 403);
});

test('a symlinked processor folder is refused alike at start-up and when it appears at run time', async (t) => {
  const outside = mkdtempSync(join(tmpdir(), 'procenv-outside-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  const descriptor = (id: string, name: string) => ({ name, processorId: id, type: 'python_pip_2', userId: 'demo', isPublic: 1 });
  mkdirSync(join(outside, 'early'));
  writeFileSync(join(outside, 'early', 'processor.json'), JSON.stringify(descriptor('link-early', 'linked_early')));
  mkdirSync(join(outside, 'late'));
  writeFileSync(join(outside, 'late', 'processor.json'), JSON.stringify(descriptor('link-late', 'linked_late')));
  const svc = await hostileService(t, {}, { worker: false, before: (dir) => symlinkSync(join(outside, 'early'), join(dir, 'linked_early')) });
  const { admin, owner } = await adminAndOwner(svc);
  symlinkSync(join(outside, 'late'), join(svc.config.processorsDir, 'linked_late'));

  const listed = await pollUntil(() => problems(svc, admin), (ps) => ps.filter((p) => p.folder.startsWith('linked_')).length === 2, { timeoutMs: DEADLINE_MS });
  for (const name of ['linked_early', 'linked_late']) {
    const problem = listed.value.find((p) => p.folder === name);
    t.is(problem?.file, '', name);
    t.regex(problem?.reason ?? '', /symbolic link/, name);
    t.is((await svc.get('packageManager/listPackages', owner, { name })).status, 403, name);
  }
  await svc.catalog.settled();
  t.is(await svc.store.findProcessorById('link-early'), undefined);
  t.is(await svc.store.findProcessorById('link-late'), undefined);
});

/** Waits until an operation ends, as its owner sees it. */
async function ended(svc: HostileService, token: string, id: string): Promise<Operation> {
  const { value } = await pollUntil(() => svc.get(`operations/${id}`, token), (r) => ['DONE', 'ERROR', 'STOPPED'].includes(r.body?.status), { timeoutMs: 90_000, intervalMs: 200 });
  return value.body as Operation;
}

/** A pip service whose sample_pip (the victim, owned by demo) has a real venv with victim-pkg installed. */
async function victimService(t: ExecutionContext): Promise<{ svc: HostileService; victimVenv: string; admin: string; mallory: string }> {
  const svc = await hostileService(t, { 'pip.noIndex': true, 'pip.findLinks': [wheels] }, { managerEnv: cleanPipEnv() });
  const victimVenv = join(svc.catalog.folderOf(SAMPLES.pip.name), '.venv');
  await template.copyTo(victimVenv);
  await run(join(victimVenv, 'bin', 'python'), ['-m', 'pip', 'install', '--no-index', '--find-links', wheels, 'victim-pkg'], { env: cleanPipEnv() });
  t.is((await installedPackages(victimVenv))['victim-pkg'], '1.0');
  return { svc, victimVenv, admin: await svc.login('root-admin', { admin: true }), mallory: await svc.login('mallory') };
}

/** Registers mallory's processor, asks it to remove victim-pkg, and answers the operation once it ended. */
async function malloryRemoves(t: ExecutionContext, svc: HostileService, mallory: string, name: string, id: string): Promise<Operation> {
  const registered = await pollUntil(() => svc.get('packageManager/listPackages', mallory, { name }), (r) => r.status === 200, { timeoutMs: DEADLINE_MS });
  t.is(registered.value.status, 200);
  const res = await svc.get('packageManager/environmentupdate', mallory, { processorId: id, workspace: '-', updateCommand: 'removePackage/victim-pkg/' });
  t.is(res.status, 200, JSON.stringify(res.body));
  return ended(svc, mallory, res.body.processObjId);
}

test('a .venv linked to another processor\'s venv is refused: removePackage leaves the victim\'s package installed', async (t) => {
  const { svc, victimVenv, admin, mallory } = await victimService(t);
  const folder = writeProcessorFolder(svc.config.processorsDir, 'mallory_app', { processorId: 'mal-1', type: 'python_pip_2', userId: 'mallory', isPublic: 0 });
  symlinkSync(victimVenv, join(folder, '.venv'));
  const op = await malloryRemoves(t, svc, mallory, 'mallory_app', 'mal-1');
  t.is(op.status, 'ERROR');
  t.is(op.error?.code, 'ENVIRONMENT_REFUSED');
  t.regex(op.error?.message ?? '', /pip\.venvDir "\.venv" is a symbolic link/);
  t.is((await installedPackages(victimVenv))['victim-pkg'], '1.0');
  t.true((await problems(svc, admin)).some((p) => p.folder === 'mallory_app' && p.file === 'environment'));
});

test('a real .venv whose site-packages links into another processor\'s venv is refused as well', async (t) => {
  const { svc, victimVenv, mallory } = await victimService(t);
  const folder = writeProcessorFolder(svc.config.processorsDir, 'mallory_deep', { processorId: 'mal-2', type: 'python_pip_2', userId: 'mallory', isPublic: 0 });
  const venv = join(folder, '.venv');
  await template.copyTo(venv);
  const pythonDir = readdirSync(join(venv, 'lib')).find((d) => d.startsWith('python'))!;
  const site = join(venv, 'lib', pythonDir, 'site-packages');
  rmSync(site, { recursive: true });
  symlinkSync(join(victimVenv, 'lib', pythonDir, 'site-packages'), site);
  const op = await malloryRemoves(t, svc, mallory, 'mallory_deep', 'mal-2');
  t.is(op.status, 'ERROR');
  t.is(op.error?.code, 'ENVIRONMENT_REFUSED');
  t.regex(op.error?.message ?? '', /site-packages resolves outside the environment/);
  t.is((await installedPackages(victimVenv))['victim-pkg'], '1.0');
});

test('a processor.json "python" outside the allowed interpreters is never run, and the reason is reported', async (t) => {
  const svc = await hostileService(t, { 'pip.noIndex': true, 'pip.findLinks': [wheels] }, { managerEnv: cleanPipEnv() });
  const admin = await svc.login('root-admin', { admin: true });
  const mallory = await svc.login('mallory');
  const marker = join(svc.root, 'python-ran');
  const script = join(svc.root, 'evil-python');
  writeFileSync(script, `#!/bin/sh\ntouch '${marker}'\nexit 1\n`, { mode: 0o755 });
  writeProcessorFolder(svc.config.processorsDir, 'py_app', { processorId: 'py-1', type: 'python_pip_2', userId: 'mallory', isPublic: 0, python: script } as never);
  const registered = await pollUntil(() => svc.get('packageManager/listPackages', mallory, { name: 'py_app' }), (r) => r.status === 200, { timeoutMs: DEADLINE_MS });
  t.is(registered.value.status, 200);
  // The first command creates the venv: with the processor's python, were it allowed.
  const res = await svc.get('packageManager/environmentupdate', mallory, { processorId: 'py-1', workspace: '-', updateCommand: 'addPackage/victim-pkg/' });
  t.is(res.status, 200);
  const op = await ended(svc, mallory, res.body.processObjId);
  t.is(op.error?.code, 'ENVIRONMENT_REFUSED');
  t.regex(op.error?.message ?? '', /pip\.allowedPythons does not allow/);
  t.false(existsSync(marker), 'the processor\'s python ran');
  t.false(existsSync(join(svc.config.processorsDir, 'py_app', '.venv')));
  const listed = await problems(svc, admin);
  t.true(listed.some((p) => p.folder === 'py_app' && p.file === 'environment' && /evil-python/.test(p.reason)), JSON.stringify(listed));
});
