import { spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import got, { type Got } from 'got';
import type { ProcessorCatalog } from '../../src/catalog/catalog.ts';
import { createSession } from '../../src/cli.ts';
import type { Operation } from '../../src/domain/operation.ts';
import { createLogger } from '../../src/logger.ts';
import { OperationWorker } from '../../src/queue/worker.ts';
import { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE } from '../../src/store/open.ts';
import { cleanPipEnv, createTemplateVenv, standInPython, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR_ID } from '../helpers/pip-service.ts';
import { SAMPLES_DIR } from '../helpers/service.ts';
import { buildWheel } from '../helpers/wheels.ts';
import { ensureCompiled, PROCENV_BIN } from '../helpers/compiled.ts';
import { Lifecycle } from '../../src/lifecycle/lifecycle.ts';

// The command line runs compiled, as users run it: dist/ is rebuilt first when a source is newer.
test.before(ensureCompiled);

/**
 * A busy or missing store (README "A busy or missing store"). Each test runs procenv as a real child process on
 * a real SQLite file, and another real process (Python's sqlite3, as a backup tool or an operator's sqlite3 shell
 * would) holds the store's write lock with BEGIN EXCLUSIVE. The tests run one at a time: they measure answer times.
 */

const FINAL = ['DONE', 'ERROR', 'STOPPED'];

let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

/** Polls `fn` until it answers something other than undefined. */
async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Served {
  child: ChildProcess;
  url: string;
  /** Every pino line the service wrote so far, parsed. */
  logs: Record<string, unknown>[];
  http: Got;
  token: string;
  exited: boolean;
  folder: string;
  storeFile: string;
  update(updateCommand?: string): Promise<{ status: number; body: any; ms: number }>;
  operation(id: string): Promise<Operation>;
  ended(id: string, timeoutMs?: number): Promise<Operation>;
}

/**
 * procenv serve as a child process, on a fresh copy of the samples, with sample_pip's venv copied from the
 * template and pip pointed at a folder of wheels the test built. `slowPythonMs` makes every interpreter start in
 * that venv take that much longer (a stand-in for a slow pip), so that a test can hold the lock while it runs.
 */
async function serve(t: ExecutionContext, options: { env?: Record<string, string>; slowPythonMs?: number; sessionAgeMs?: number } = {}): Promise<Served> {
  const root = mkdtempSync(join(tmpdir(), 'procenv-store-outage-'));
  const processorsDir = join(root, 'processors');
  const dataDir = join(root, 'data');
  const wheels = join(root, 'wheels');
  cpSync(SAMPLES_DIR, processorsDir, { recursive: true });
  mkdirSync(wheels);
  await buildWheel(wheels, 'pe-alpha', '1.0');
  const folder = join(processorsDir, 'sample_pip');
  const venv = join(folder, '.venv');
  await template.copyTo(venv);
  if (options.slowPythonMs) {
    standInPython(venv, 'python-slow', `#!/bin/sh\nsleep ${options.slowPythonMs / 1000}\nexec "$(dirname "$0")/python3" "$@"\n`);
  }
  const storeFile = join(dataDir, EMBEDDED_STORE_FILE);
  const store = new SqliteStore(storeFile);
  await store.saveUser({ userId: 'demo', role: 'USER' });
  const token = await createSession(store, 'demo');
  // A session last used longer ago than a minute: the next request refreshes it, which is a store write.
  if (options.sessionAgeMs) await store.saveSession({ sessionId: token, userId: 'demo', loginDate: Date.now() - options.sessionAgeMs, lastTouch: Date.now() - options.sessionAgeMs });
  await store.close();
  const env = {
    ...cleanPipEnv(), PROCENV_PORT: '0', PROCENV_DATA_DIR: dataDir, PROCENV_PROCESSORS_DIR: processorsDir,
    PROCENV_PIP_NO_INDEX: 'true', PROCENV_PIP_FIND_LINKS: wheels, PROCENV_LOG_LEVEL: 'info', ...options.env,
  };
  const child = spawn(process.execPath, [PROCENV_BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const served = { child, logs: [] as Record<string, unknown>[], exited: false, token, folder, storeFile } as Served;
  t.teardown(() => {
    child.kill('SIGKILL');
    // A pip process the killed service had started may still be writing into the venv for a moment: retried.
    rmSync(root, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
  });
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        served.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        served.logs.push({ msg: line });
      }
    }
  });
  child.stderr!.on('data', () => undefined);
  child.once('exit', () => {
    served.exited = true;
  });
  served.url = await waitFor('the service to listen', () => {
    if (served.exited) throw new Error(`procenv exited: ${JSON.stringify(served.logs)}`);
    return served.logs.find((l) => l.msg === 'listening')?.url as string | undefined;
  }, 30_000);
  served.http = got.extend({ prefixUrl: served.url, headers: { 'x-session-token': token }, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 60_000 } });
  served.update = async (updateCommand?: string) => {
    const started = performance.now();
    const res = await served.http.get('packageManager/environmentupdate', {
      searchParams: { processorId: PIP_PROCESSOR_ID, workspace: '-', ...(updateCommand === undefined ? {} : { updateCommand }) },
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, ms: performance.now() - started };
  };
  served.operation = async (id: string) => JSON.parse((await served.http.get(`operations/${id}`)).body) as Operation;
  served.ended = (id: string, timeoutMs = 120_000) => waitFor(`operation ${id} to end`, async () => {
    const op = await served.operation(id);
    return FINAL.includes(op.status) ? op : undefined;
  }, timeoutMs);
  return served;
}

/**
 * Another process holds the store's write lock for `seconds`, or until `release()`; resolves once it holds it.
 * `released` resolves when that process has committed and exited.
 */
async function holdLock(t: ExecutionContext, file: string, seconds: number): Promise<{ released: Promise<void>; release(): Promise<void> }> {
  const script = [
    'import select, sqlite3, sys',
    'c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)',
    "c.execute('BEGIN EXCLUSIVE')",
    "print('locked', flush=True)",
    'select.select([sys.stdin], [], [], float(sys.argv[2]))',
    "c.execute('COMMIT')",
  ].join('\n');
  const child = spawn('python3', ['-c', script, file, String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const released = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the lock holder exited ${code} before locking`)));
  });
  return {
    released,
    release: () => {
      child.stdin!.end('\n');
      return released;
    },
  };
}

/** Whether a distribution is installed in a venv (its .dist-info folder is there), read from the file system. */
function hasDistribution(venv: string, distInfo: string): boolean {
  const lib = join(venv, 'lib');
  return readdirSync(lib).some((py) => existsSync(join(lib, py, 'site-packages', distInfo)));
}

/** The service is still running and nothing it logged says a promise was left unhandled or a request failed. */
function assertHealthy(t: ExecutionContext, served: Served): void {
  t.false(served.exited, 'the service is still running');
  t.deepEqual(served.logs.filter((l) => /unhandled|crashed|request failed/.test(String(l.msg))), [], 'no unhandled rejection, crash or 500 logged');
}

function packagesInfoNames(folder: string): string[] {
  const info = JSON.parse(readFileSync(join(folder, 'packagesInfo.json'), 'utf8')) as { uptodate?: { packageName: string }[]; outdated?: { packageName: string }[] };
  return [...(info.uptodate ?? []), ...(info.outdated ?? [])].map((p) => p.packageName);
}

test.serial('a refresh running while another process holds the store lock longer than the old busy timeout ends DONE and the service stays up', async (t) => {
  t.timeout(240_000);
  const served = await serve(t, { slowPythonMs: 2_000, env: { PROCENV_QUEUE_LEASE_SECONDS: '2' } });
  const { body } = await served.update();
  await waitFor('the refresh to run pip', async () => {
    const op = await served.operation(body.processObjId);
    return op.status === 'RUNNING' && op.pid ? op : undefined;
  });
  // 20 s: longer than the 12-14 s seen in production, well over two of the 5 s waits the store used to make
  // synchronously (so a write of the operation falls inside the lock whatever the timing), and ten leases long.
  const lock = await holdLock(t, served.storeFile, 20);
  await lock.released;
  const op = await served.ended(body.processObjId);
  t.is(op.status, 'DONE', JSON.stringify(op.error));
  const log = JSON.parse((await served.http.get(`operations/${body.processObjId}/log`)).body) as { line: string }[];
  t.true(log.some((l) => l.line.startsWith('packagesInfo.json written')), 'the log lines written during the lock reached the store');
  assertHealthy(t, served);
});

test.serial('an addPackage whose end falls inside a store lock longer than the wait budget ends DONE with its history line and a fresh packagesInfo.json', async (t) => {
  t.timeout(240_000);
  const served = await serve(t, { slowPythonMs: 2_000, env: { PROCENV_QUEUE_LEASE_SECONDS: '2', PROCENV_STORE_BUSY_WAIT_MS: '1000' } });
  t.false(packagesInfoNames(served.folder).includes('pe-alpha'));
  const { body } = await served.update('addPackage/pe-alpha/');
  await waitFor('pip install to start', async () => {
    const op = await served.operation(body.processObjId);
    return op.status === 'RUNNING' && op.pid ? op : undefined;
  });
  // pip install ends inside the lock, which lasts 20 s more: the history line waits for the store far longer than
  // this service's 1 s budget and than several of the 5 s synchronous waits the store used to make.
  const lock = await holdLock(t, served.storeFile, 120);
  await waitFor('pip to install the package', () => hasDistribution(join(served.folder, '.venv'), 'pe_alpha-1.0.dist-info') || undefined, 120_000);
  await new Promise((r) => setTimeout(r, 20_000));
  await lock.release();
  const op = await served.ended(body.processObjId);
  t.is(op.status, 'DONE', JSON.stringify(op.error));
  t.deepEqual(op.recorded?.lines, [readFileSync(join(served.folder, 'envActionsList.txt'), 'utf8').split('\n').filter(Boolean).length - 1]);
  t.is(readFileSync(join(served.folder, 'envActionsList.txt'), 'utf8').split('\n').filter(Boolean).at(-1), 'addPackage/pe-alpha/');
  t.true(packagesInfoNames(served.folder).includes('pe-alpha'), 'packagesInfo.json lists the package');
  const listed = JSON.parse((await served.http.get('packageManager/listPackages', { searchParams: { name: 'sample_pip' } })).body) as { packageName: string }[];
  t.true(listed.some((p) => p.packageName === 'pe-alpha'), 'listPackages lists the package');
  t.true(served.logs.some((l) => l.msg === 'store unavailable; waiting to record'), 'the wait was longer than the budget of one store call');
  assertHealthy(t, served);
});

test.serial('listPackages answers within 2 s while another process holds the store lock, even when the session is due a refresh', async (t) => {
  t.timeout(120_000);
  const served = await serve(t, { sessionAgeMs: 120_000 });
  const lock = await holdLock(t, served.storeFile, 10);
  // A change waiting for the store at the same time must not hold the reads either.
  const change = served.update();
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const res = await served.http.get('packageManager/listPackages', { searchParams: { name: 'sample_pip' } });
    times.push(performance.now() - started);
    t.is(res.statusCode, 200, res.body);
    t.true((JSON.parse(res.body) as unknown[]).length > 0);
    await new Promise((r) => setTimeout(r, 200));
  }
  t.log(`listPackages during the lock: ${times.map((ms) => Math.round(ms)).join(', ')} ms`);
  t.true(Math.max(...times) < 2_000, `slowest ${Math.round(Math.max(...times))} ms`);
  await lock.released;
  t.true([200, 503].includes((await change).status));
  assertHealthy(t, served);
});

test.serial('a change while the store stays locked past the wait budget answers 503 STORE_UNAVAILABLE, and 200 once the lock is gone', async (t) => {
  t.timeout(120_000);
  const served = await serve(t, { env: { PROCENV_STORE_BUSY_WAIT_MS: '1000' } });
  const lock = await holdLock(t, served.storeFile, 8);
  const refused = await served.update('addPackage/pe-alpha/');
  t.is(refused.status, 503);
  t.is(refused.body.error.code, 'STORE_UNAVAILABLE');
  t.regex(refused.body.error.message, /locked by another process/);
  t.true(refused.ms < 6_000, `answered after ${Math.round(refused.ms)} ms`);
  await lock.released;
  const accepted = await served.update('addPackage/pe-alpha/');
  t.is(accepted.status, 200, JSON.stringify(accepted.body));
  t.is((await served.ended(accepted.body.processObjId)).status, 'DONE');
  assertHealthy(t, served);
});

test.serial('a store file deleted under the running service is reported once and refuses changes with 503 until it is moved back', async (t) => {
  t.timeout(120_000);
  const served = await serve(t);
  const aside = `${served.storeFile}.aside`;
  // A hard link keeps the file so that the test can put it back; the store's own name is really unlinked.
  linkSync(served.storeFile, aside);
  unlinkSync(served.storeFile);
  await waitFor('the error line', () => served.logs.find((l) => l.level === 50 && l.reason === 'deleted'), 10_000);
  const refused = await served.update('addPackage/pe-alpha/');
  t.is(refused.status, 503);
  t.is(refused.body.error.code, 'STORE_UNAVAILABLE');
  t.regex(refused.body.error.message, /deleted/);
  // The service checks every second; three seconds later it has still said it only once.
  await new Promise((r) => setTimeout(r, 3_000));
  t.is(served.logs.filter((l) => l.level === 50).length, 1, 'logged at error level once');
  renameSync(aside, served.storeFile);
  await waitFor('the store to be back', () => served.logs.find((l) => l.msg === 'store file is back; changes are accepted again'), 10_000);
  const accepted = await served.update('addPackage/pe-alpha/');
  t.is(accepted.status, 200, JSON.stringify(accepted.body));
  t.is((await served.ended(accepted.body.processObjId)).status, 'DONE');
  assertHealthy(t, served);
});

test.serial('a store file replaced under the running service refuses changes with 503 until the original is back', async (t) => {
  t.timeout(120_000);
  const served = await serve(t);
  const aside = `${served.storeFile}.aside`;
  const copy = `${served.storeFile}.copy`;
  // A restored backup: same content, another file.
  copyFileSync(served.storeFile, copy);
  renameSync(served.storeFile, aside);
  renameSync(copy, served.storeFile);
  const refused = await served.update('addPackage/pe-alpha/');
  t.is(refused.status, 503);
  t.is(refused.body.error.code, 'STORE_UNAVAILABLE');
  t.regex(refused.body.error.message, /replaced/);
  await waitFor('the error line', () => served.logs.find((l) => l.level === 50 && l.reason === 'replaced'), 10_000);
  renameSync(aside, served.storeFile);
  const accepted = await waitFor('a change to be accepted', async () => {
    const res = await served.update('addPackage/pe-alpha/');
    return res.status === 200 ? res : undefined;
  }, 10_000);
  t.is((await served.ended(accepted.body.processObjId)).status, 'DONE');
  assertHealthy(t, served);
});

test.serial('another worker on the same store does not end an operation whose lease lapsed during a lock when its owner renews it, and still ends a really lost one', async (t) => {
  t.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'procenv-lapse-'));
  const store = new SqliteStore(join(dir, EMBEDDED_STORE_FILE));
  const leaseMs = 1_000;
  const now = Date.now();
  const running = (processObjId: string, productName: string): Operation => ({
    processObjId, operationType: 'ENVIRONMENTUPDATE', processorId: `${productName}-id`, productName, workspaceId: '-', userId: 'demo',
    nodeCode: 'wasdi', status: 'RUNNING', commands: ['addPackage/pe-alpha/'], operationTimestamp: now, operationStartTimestamp: now,
    lastStateChangeTimestamp: now, progressPerc: 0, executionStarted: true, leaseOwner: 'other-process', leaseExpiresAt: now - 1,
  });
  // Both leases lapsed a moment ago: one owner is alive but was locked out of the store, the other is gone.
  await store.insertOperation(running('alive', 'p-alive'));
  await store.insertOperation(running('dead', 'p-dead'));
  // The worker never runs anything here (no CREATED operation): the catalog and managers are never reached.
  const worker = new OperationWorker({
    store, lifecycle: new Lifecycle(store, createLogger('silent')), catalog: {} as ProcessorCatalog, managers: {}, log: createLogger('silent'), nodeCode: 'wasdi', isMainNode: true,
    concurrency: 1, leaseMs, commandTimeoutMs: 60_000,
  });
  t.teardown(async () => {
    await worker.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await worker.start();
  // The live owner renews as soon as the store answers again, well within one more lease.
  await new Promise((r) => setTimeout(r, leaseMs / 2));
  await store.renewLeases(['alive'], 'other-process', Date.now() + 60_000);
  const dead = await waitFor('the lost operation to end', async () => {
    const op = await store.findOperation('dead');
    return op?.status === 'ERROR' ? op : undefined;
  }, 30_000);
  t.is(dead.error?.code, 'INTERRUPTED');
  t.is((await store.findOperation('alive'))?.status, 'RUNNING', 'the renewed operation is left to its owner');
});
