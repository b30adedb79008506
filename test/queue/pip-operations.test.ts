import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { createTemplateVenv, installedPackages, standInPython, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService } from '../helpers/pip-service.ts';

// Real pip in real virtual environments, with wheels each test builds; no network.
let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

const WHEELS: [string, string][] = [['pe-alpha', '1.0'], ['pe-alpha', '2.0'], ['pe-beta', '0.5'], ['pe-gamma', '3.1']];

function historyLines(folder: string): string[] {
  const file = join(folder, 'envActionsList.txt');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

test.serial('addPackage installs the latest wheel, records the command and regenerates packagesInfo.json', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const folder = svc.catalog.folderOf(PIP_PROCESSOR);
    const before = historyLines(folder);
    const op = await svc.waitFor(await svc.update('addPackage/pe-alpha/'));
    t.is(op.status, 'DONE', JSON.stringify(op.error));
    t.is((await installedPackages(svc.venv))['pe-alpha'], '2.0');
    t.deepEqual(historyLines(folder), [...before, 'addPackage/pe-alpha/']);
    const packages = (await svc.get('packageManager/listPackages', { name: PIP_PROCESSOR })).body as { packageName: string; currentVersion: string }[];
    t.is(packages.find((p) => p.packageName === 'pe-alpha')?.currentVersion, '2.0');
    t.true(packages.some((p) => p.packageName === 'pip'), 'the snapshot is the real venv, with pip in it');
    const java = JSON.parse(readFileSync(join(folder, 'packagesInfo.json'), 'utf8'));
    t.truthy(java.packageManager?.version, 'Java form: packageManager');
    t.true(Array.isArray(java.outdated) && Array.isArray(java.uptodate), 'Java form: outdated + uptodate');
    t.true(java.uptodate.every((p: Record<string, unknown>) => 'currentBuild' in p && p.currentBuild === null), 'Java form keeps nulls');
    const version = (await svc.get('packageManager/managerVersion', { name: PIP_PROCESSOR })).body;
    t.is(typeof version.major, 'number');
    t.is(op.userId, 'demo');
    t.true(typeof op.durationMs === 'number' && op.durationMs >= 0);
    const log = (await svc.get(`operations/${op.processObjId}/log`)).body as { line: string; stream: string }[];
    t.true(log.some((l) => /Successfully installed pe-alpha-2\.0/.test(l.line)), 'pip output is in the log');
  } finally {
    await svc.close();
  }
});

test.serial('a version, an upgrade and a removal each reach the venv and the history in order', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const folder = svc.catalog.folderOf(PIP_PROCESSOR);
    const before = historyLines(folder);
    t.is((await svc.waitFor(await svc.update('addPackage/pe-alpha/1.0/'))).status, 'DONE');
    t.is((await installedPackages(svc.venv))['pe-alpha'], '1.0');
    // Outdated detection: 1.0 installed while 2.0 is in the index.
    const listed = (await svc.get('packageManager/listPackages', { name: PIP_PROCESSOR })).body as { packageName: string; latestVersion?: string }[];
    t.is(listed.find((p) => p.packageName === 'pe-alpha')?.latestVersion, '2.0');
    t.is((await svc.waitFor(await svc.update('upgradePackage/pe-alpha/'))).status, 'DONE');
    t.is((await installedPackages(svc.venv))['pe-alpha'], '2.0');
    t.is((await svc.waitFor(await svc.update('removePackage/pe-alpha/'))).status, 'DONE');
    t.false('pe-alpha' in (await installedPackages(svc.venv)));
    t.deepEqual(historyLines(folder), [...before, 'addPackage/pe-alpha/1.0/', 'upgradePackage/pe-alpha/', 'removePackage/pe-alpha/']);
  } finally {
    await svc.close();
  }
});

test.serial('a refresh rewrites packagesInfo.json from the real environment and records no history', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const folder = svc.catalog.folderOf(PIP_PROCESSOR);
    const before = historyLines(folder);
    const op = await svc.waitFor(await svc.update());
    t.is(op.status, 'DONE');
    t.deepEqual(op.commands, []);
    const names = ((await svc.get('packageManager/listPackages', { name: PIP_PROCESSOR })).body as { packageName: string }[]).map((p) => p.packageName);
    t.true(names.includes('pip'));
    t.false(names.includes('numpy'), 'the sample snapshot was replaced by the real one');
    t.deepEqual(historyLines(folder), before);
  } finally {
    await svc.close();
  }
});

test.serial('an install of a version that does not exist ends ERROR with pip\'s message, no history line, and the snapshot intact', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const folder = svc.catalog.folderOf(PIP_PROCESSOR);
    t.is((await svc.waitFor(await svc.update('addPackage/pe-beta/'))).status, 'DONE');
    const before = historyLines(folder);
    const op = await svc.waitFor(await svc.update('addPackage/pe-alpha/9.9/'));
    t.is(op.status, 'ERROR');
    t.truthy(op.error?.code);
    t.regex(op.error!.message, /pe-alpha/);
    const log = (await svc.get(`operations/${op.processObjId}/log`)).body as { line: string }[];
    t.true(log.some((l) => /No matching distribution found for pe-alpha==9\.9/.test(l.line)), 'pip\'s own error is in the log');
    t.deepEqual(historyLines(folder), before, 'a failed command is not recorded');
    const packages = (await svc.get('packageManager/listPackages', { name: PIP_PROCESSOR })).body as { packageName: string }[];
    t.true(packages.some((p) => p.packageName === 'pe-beta'), 'the package list is not emptied by a failure');
    const history = (await svc.get(`processors/${PIP_PROCESSOR}/history`)).body as { processObjId: string; status: string }[];
    t.is(history[0]?.processObjId, op.processObjId);
    t.is(history[0]?.status, 'ERROR');
  } finally {
    await svc.close();
  }
});

test.serial('POST /processors/:name/operations installs three packages in one operation', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const res = await svc.http.post(`processors/${PIP_PROCESSOR}/operations`, {
      headers: { 'x-session-token': svc.token }, json: { commands: ['addPackage/pe-alpha/1.0/', 'addPackage/pe-beta/', 'addPackage/pe-gamma/3.1'] },
    });
    t.is(res.statusCode, 202);
    const accepted = JSON.parse(res.body);
    t.is(res.headers.location, `/operations/${accepted.processObjId}`);
    t.deepEqual(accepted.commands, ['addPackage/pe-alpha/1.0/', 'addPackage/pe-beta/', 'addPackage/pe-gamma/3.1/']);
    const op = await svc.waitFor(accepted.processObjId);
    t.is(op.status, 'DONE');
    const installed = await installedPackages(svc.venv);
    t.is(installed['pe-alpha'], '1.0');
    t.is(installed['pe-beta'], '0.5');
    t.is(installed['pe-gamma'], '3.1');
    t.deepEqual(historyLines(svc.catalog.folderOf(PIP_PROCESSOR)).slice(-3), ['addPackage/pe-alpha/1.0/', 'addPackage/pe-beta/', 'addPackage/pe-gamma/3.1/']);
  } finally {
    await svc.close();
  }
});

test.serial('a batch that fails halfway records exactly the commands that ran', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const res = await svc.http.post(`processors/${PIP_PROCESSOR}/operations`, {
      headers: { 'x-session-token': svc.token }, json: { commands: ['addPackage/pe-beta/', 'addPackage/pe-alpha/7.0/', 'addPackage/pe-gamma/'] },
    });
    const op = await svc.waitFor(JSON.parse(res.body).processObjId);
    t.is(op.status, 'ERROR');
    const installed = await installedPackages(svc.venv);
    t.is(installed['pe-beta'], '0.5');
    t.false('pe-gamma' in installed, 'commands after the failure do not run');
    const lines = historyLines(svc.catalog.folderOf(PIP_PROCESSOR));
    t.is(lines.at(-1), 'addPackage/pe-beta/');
    t.false(lines.includes('addPackage/pe-alpha/7.0/'));
  } finally {
    await svc.close();
  }
});

test.serial('a repeated Idempotency-Key answers the first operation and queues nothing more', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const send = () => svc.http.post(`processors/${PIP_PROCESSOR}/operations`, {
      headers: { 'x-session-token': svc.token, 'idempotency-key': 'install-beta-once' }, json: { commands: ['addPackage/pe-beta/'] },
    });
    const first = await send();
    const second = await send();
    t.is(first.statusCode, 202);
    t.is(second.statusCode, 202);
    t.is(second.headers['idempotent-replayed'], 'true');
    t.is(JSON.parse(second.body).processObjId, JSON.parse(first.body).processObjId);
    await svc.waitFor(JSON.parse(first.body).processObjId);
    const ops = (await svc.get('operations', { processor: PIP_PROCESSOR })).body as unknown[];
    t.is(ops.length, 1);
  } finally {
    await svc.close();
  }
});

test.serial('a queued operation is cancelled at once and a running one is killed, both ending STOPPED', async (t) => {
  // A venv whose python hangs stands for a pip that hangs: the first operation runs (and hangs), the second waits.
  const svc = await startPipService(template, WHEELS);
  try {
    const real = readFileSync(join(svc.venv, 'pyvenv.cfg'), 'utf8');
    t.truthy(real);
    standInPython(svc.venv, 'python-hang', '#!/bin/sh\nexec sleep 300\n');
    const running = await svc.update('addPackage/pe-beta/');
    const queued = await svc.update('addPackage/pe-gamma/');
    const deadline = Date.now() + 10_000;
    while ((await svc.get(`operations/${running}`)).body.status !== 'RUNNING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const cancelQueued = await svc.http.post(`operations/${queued}/cancel`, { headers: { 'x-session-token': svc.token } });
    t.is(cancelQueued.statusCode, 200);
    t.is(JSON.parse(cancelQueued.body).status, 'STOPPED');
    const started = Date.now();
    const cancelRunning = await svc.http.post(`operations/${running}/cancel`, { headers: { 'x-session-token': svc.token } });
    t.is(cancelRunning.statusCode, 200);
    const op = await svc.waitFor(running, 20_000);
    t.is(op.status, 'STOPPED');
    t.true(Date.now() - started < 15_000);
    const again = await svc.http.post(`operations/${running}/cancel`, { headers: { 'x-session-token': svc.token } });
    t.is(again.statusCode, 409, 'an ended operation cannot be cancelled');
  } finally {
    await svc.close();
  }
});

test.serial('a package manager that hangs is stopped at the time limit and the operation ends ERROR with the reason', async (t) => {
  const svc = await startPipService(template, WHEELS, { 'queue.commandTimeoutSeconds': 1 });
  try {
    standInPython(svc.venv, 'python-hang', '#!/bin/sh\nexec sleep 300\n');
    const op = await svc.waitFor(await svc.update('addPackage/pe-beta/'), 30_000);
    t.is(op.status, 'ERROR');
    t.is(op.error?.code, 'COMMAND_TIMEOUT');
    t.true(op.durationMs! < 15_000);
  } finally {
    await svc.close();
  }
});

test.serial('a processor folder removed while its operation waits ends that operation ERROR and the worker goes on', async (t) => {
  const svc = await startPipService(template, WHEELS, { 'queue.concurrency': 1 });
  try {
    // Another pip processor holds the single worker slot while sample_pip's operation waits.
    const { cpSync, rmSync } = await import('node:fs');
    const other = join(svc.config.processorsDir, 'other_pip');
    cpSync(svc.catalog.folderOf(PIP_PROCESSOR), other, { recursive: true, filter: (src) => !src.includes('.venv') });
    await template.copyTo(join(other, '.venv'));
    writeFileSync(join(other, 'processor.json'), JSON.stringify({ processorId: 'other-pip-id', type: 'python_pip_2', userId: 'demo', isPublic: 1 }));
    await svc.catalog.scan();
    const blocker = await svc.http.get('packageManager/environmentupdate', { headers: { 'x-session-token': svc.token }, searchParams: { processorId: 'other-pip-id', workspace: '-', updateCommand: 'addPackage/pe-gamma/' } });
    const waiting = await svc.update('addPackage/pe-beta/');
    rmSync(svc.catalog.folderOf(PIP_PROCESSOR), { recursive: true, force: true });
    const op = await svc.waitFor(waiting, 60_000);
    t.is(op.status, 'ERROR');
    t.is(op.error?.code, 'PROCESSOR_GONE');
    const other_op = await svc.waitFor(JSON.parse(blocker.body).processObjId, 60_000);
    t.is(other_op.status, 'DONE', JSON.stringify(other_op.error));
  } finally {
    await svc.close();
  }
});

test.serial('a package the configured index does not have is refused with 400 before anything is queued', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    const res = await svc.http.get('packageManager/environmentupdate', {
      headers: { 'x-session-token': svc.token }, searchParams: { processorId: '5c1f4a8e-2b7d-4f3a-9e61-0d2c8b7a4f10', workspace: '-', updateCommand: 'addPackage/pe-missing/' },
    });
    t.is(res.statusCode, 400);
    t.is(JSON.parse(res.body).error.code, 'PACKAGE_NOT_FOUND');
    t.deepEqual(await svc.store.listOperations({}), []);
    // A package the index has is accepted.
    t.is((await svc.http.get('packageManager/environmentupdate', {
      headers: { 'x-session-token': svc.token }, searchParams: { processorId: '5c1f4a8e-2b7d-4f3a-9e61-0d2c8b7a4f10', workspace: '-', updateCommand: 'addPackage/pe-gamma/' },
    })).statusCode, 200);
  } finally {
    await svc.close();
  }
});

test.serial('a graceful stop during an operation ends it INTERRUPTED and leaves a refresh queued for the next start', async (t) => {
  const svc = await startPipService(template, WHEELS);
  try {
    standInPython(svc.venv, 'python-hang', '#!/bin/sh\nexec sleep 300\n');
    const id = await svc.update('addPackage/pe-beta/');
    const deadline = Date.now() + 10_000;
    while ((await svc.get(`operations/${id}`)).body.status !== 'RUNNING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const { SqliteStore } = await import('../../src/store/embedded/sqlite-store.ts');
    const { EMBEDDED_STORE_FILE } = await import('../../src/store/open.ts');
    await svc.stop();
    const store = new SqliteStore(join(svc.config.dataDir, EMBEDDED_STORE_FILE));
    try {
      const ops = await store.listOperations({ processorName: PIP_PROCESSOR });
      const stopped = ops.find((o) => o.processObjId === id);
      t.is(stopped?.status, 'ERROR');
      t.is(stopped?.error?.code, 'INTERRUPTED');
      const refresh = ops.find((o) => o.userId === 'procenv' && o.commands.length === 0);
      t.is(refresh?.status, 'CREATED', 'a refresh waits for the next start');
    } finally {
      await store.close();
    }
  } finally {
    await svc.close();
  }
});
