import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import got from 'got';
import { createSession } from '../../src/cli.ts';
import type { Operation } from '../../src/domain/operation.ts';
import { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE } from '../../src/store/open.ts';
import { cleanPipEnv, createTemplateVenv, realPython, standInPython } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR_ID } from '../helpers/pip-service.ts';
import { SAMPLES_DIR } from '../helpers/service.ts';
import { buildWheel } from '../helpers/wheels.ts';
import { ensureCompiled, PROCENV_BIN } from '../helpers/compiled.ts';

// The command line runs compiled, as users run it: dist/ is rebuilt first when a source is newer.
test.before(ensureCompiled);


/** procenv serve as a real child process; resolves with its URL once it logs that it listens. */
function serve(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [PROCENV_BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "listening" line: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.stderr!.on('data', () => undefined);
    child.once('exit', (code) => reject(new Error(`procenv exited ${code}: ${out}`)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('kill -9 while an operation runs: after a restart it ends ERROR, its pip is killed, queued and never-started operations run, no file is half-written', async (t) => {
  t.timeout(300_000);
  const root = mkdtempSync(join(tmpdir(), 'procenv-crash-'));
  const template = await createTemplateVenv();
  const children: ChildProcess[] = [];
  let orphan: number | undefined;
  try {
    const processorsDir = join(root, 'processors');
    const dataDir = join(root, 'data');
    const wheels = join(root, 'wheels');
    cpSync(SAMPLES_DIR, processorsDir, { recursive: true });
    mkdirSync(wheels);
    await buildWheel(wheels, 'pe-beta', '0.5');
    const venv = join(processorsDir, 'sample_pip', '.venv');
    await template.copyTo(venv);
    // The first operation's pip hangs (a stand-in interpreter that sleeps), so the kill lands mid-command.
    standInPython(venv, 'python-hang', '#!/bin/sh\nexec sleep 300\n');

    const store = new SqliteStore(join(dataDir, EMBEDDED_STORE_FILE));
    await store.saveUser({ userId: 'demo', role: 'USER' });
    const token = await createSession(store, 'demo');
    await store.close();
    const env = {
      ...cleanPipEnv(), PROCENV_PORT: '0', PROCENV_DATA_DIR: dataDir, PROCENV_PROCESSORS_DIR: processorsDir,
      PROCENV_PIP_NO_INDEX: 'true', PROCENV_PIP_FIND_LINKS: wheels, PROCENV_QUEUE_LEASE_SECONDS: '2', PROCENV_LOG_LEVEL: 'info',
    };
    const first = await serve(env);
    children.push(first.child);
    const http = got.extend({ prefixUrl: first.url, headers: { 'x-session-token': token }, throwHttpErrors: false, retry: { limit: 0 } });
    const update = async (updateCommand: string) => JSON.parse((await http.get('packageManager/environmentupdate', { searchParams: { processorId: PIP_PROCESSOR_ID, workspace: '-', updateCommand } })).body).processObjId as string;
    const running = await update('addPackage/pe-beta/');
    const queued = await update('addPackage/pe-beta/0.5/');
    const op = await until('the first operation to run its pip', async () => {
      const o = JSON.parse((await http.get(`operations/${running}`)).body) as Operation;
      return o.status === 'RUNNING' && o.pid ? o : undefined;
    });
    orphan = op.pid!;
    t.true(alive(orphan), 'pip (the stand-in) runs');

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    t.true(alive(orphan), 'kill -9 of procenv leaves its pip running in its own process group');

    // An operation claimed by a worker that died before starting anything (lease lapsed, nothing executed).
    const store2 = new SqliteStore(join(dataDir, EMBEDDED_STORE_FILE));
    const now = Date.now();
    await store2.insertOperation({
      processObjId: 'claimed-never-started', operationType: 'ENVIRONMENTUPDATE', processorId: PIP_PROCESSOR_ID, productName: 'sample_pip',
      workspaceId: '-', userId: 'demo', nodeCode: 'wasdi', status: 'RUNNING', commands: ['removePackage/pe-beta/'],
      operationTimestamp: now, operationStartTimestamp: now, lastStateChangeTimestamp: now, progressPerc: 0, leaseOwner: 'dead-worker', leaseExpiresAt: now - 1000,
    });
    await store2.close();
    // pip works again for what runs after the restart.
    realPython(venv);

    const second = await serve(env);
    children.push(second.child);
    const http2 = got.extend({ prefixUrl: second.url, headers: { 'x-session-token': token }, throwHttpErrors: false, retry: { limit: 0 } });
    const ended = async (id: string) => until(`operation ${id} to end`, async () => {
      const o = JSON.parse((await http2.get(`operations/${id}`)).body) as Operation;
      return ['DONE', 'ERROR', 'STOPPED'].includes(o.status) ? o : undefined;
    }, 120_000);
    const lost = await ended(running);
    t.is(lost.status, 'ERROR');
    t.is(lost.error?.code, 'INTERRUPTED');
    t.regex(lost.error!.message, /stopped|killed|crashed/);
    t.false(alive(orphan), 'the pip the dead worker left running is killed');
    t.is((await ended(queued)).status, 'DONE', 'a queued operation survives the crash and runs');
    const requeued = await ended('claimed-never-started');
    t.is(requeued.status, 'DONE', 'an operation that never started executing is run again');
    const all = JSON.parse((await http2.get('operations', { searchParams: { processor: 'sample_pip' } })).body) as Operation[];
    const refresh = all.find((o) => o.userId === 'procenv' && o.commands.length === 0);
    t.truthy(refresh, 'a refresh follows the lost operation');
    if (refresh) t.is((await ended(refresh.processObjId)).status, 'DONE');
    const after = JSON.parse((await http2.get('operations', { searchParams: { processor: 'sample_pip' } })).body) as Operation[];
    t.deepEqual(after.filter((o) => o.status === 'RUNNING' || o.status === 'CREATED'), [], 'nothing stays RUNNING or queued');
    // No half-written files: both parse, and the history holds only what succeeded.
    const folder = join(processorsDir, 'sample_pip');
    t.notThrows(() => JSON.parse(readFileSync(join(folder, 'packagesInfo.json'), 'utf8')));
    const history = readFileSync(join(folder, 'envActionsList.txt'), 'utf8').split('\n').filter(Boolean);
    t.is(history.at(-2), 'addPackage/pe-beta/0.5/');
    t.is(history.at(-1), 'removePackage/pe-beta/');
    t.false(history.includes('addPackage/pe-beta/'), 'the interrupted command is not recorded');
    t.false(existsSync(join(folder, '.envActionsList.txt.tmp')));
  } finally {
    for (const c of children) c.kill('SIGKILL');
    if (orphan && alive(orphan)) {
      try {
        process.kill(-orphan, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await template.remove();
    rmSync(root, { recursive: true, force: true });
  }
});
