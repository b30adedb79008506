/**
 * bench/catch-up: a compute node that was down while the main node took 200 changes on 50 processors comes back;
 * how long until it has applied every one of them, next to the time the same 200 changes take when queued directly
 * on one node, in the same run. Target (issue): the catch-up takes at most 2 × the direct run.
 *
 * Every node is real procenv in a child process with the no-op package managers of bench/queue
 * (`servers/procenv-noop-server.ts`), each with its own store and its own copy of the 50 processor folders:
 * - the main node, with the compute node registered at an address where nothing listens yet: it queues and runs the
 *   200 changes, and its deliveries to the node fail and wait for their retry;
 * - the compute node, started once the main node has run all 200: it reads the main node's history and catches up
 *   (the main node's delivery retries may reach it meanwhile; a change still runs once);
 * - the reference: a standalone node that receives the same 200 requests (50 clients, one per processor, each
 *   sending its 4 back to back) and runs them.
 *
 * Figures come from the nodes' own stores (read from this process; SQLite WAL readers never block the writer):
 * - direct: the first request sent → the last operation's `operationEndTimestamp`;
 * - catch-up: the compute node listening → the moment its store shows every processor at position 4 of the main
 *   node's history (polled every 10 ms), and, beside it, the spawn → listening time.
 *
 *   node --import tsx bench/catch-up.ts [--processors 50] [--changes 4] [--rounds 3]
 *
 * Exit code: 0 PASS, 1 FAIL (ratio above target) or an invalid run (a change lost, run twice, or out of order).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import got from 'got';
import { createSession } from '../src/cli.ts';
import { isFinal } from '../src/domain/operation.ts';
import { SqliteStore } from '../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE } from '../src/store/open.ts';
import { freePort, integerOption, median, startChild, stopChild } from './servers/child.ts';

const TARGET = 2;
const MAIN = 'wasdi';
const NODE = 'cn01';
const USER = 'bench-user';

const { values: opts } = parseArgs({
  options: {
    processors: { type: 'string', default: '50' },
    changes: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
  },
});
const PROCESSORS = integerOption(opts, 'processors');
const CHANGES = integerOption(opts, 'changes');
const ROUNDS = integerOption(opts, 'rounds');
const TOTAL = PROCESSORS * CHANGES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const problems: string[] = [];
const problem = (text: string) => {
  if (problems.length < 20) problems.push(text);
};

interface Proc { name: string; processorId: string }
type Child = Awaited<ReturnType<typeof startChild>>['child'];

/** The command of change j of a processor (the same on every node and in every round). */
const command = (p: Proc, j: number) => `addPackage/${p.name.replace(/_/g, '-')}-pkg${j}/`;

/** A processors folder holding the given processors (one per node: each node has its own copy, as in WASDI). */
function processorsFolder(root: string, procs: readonly Proc[]): string {
  const dir = join(root, 'processors');
  for (const p of procs) {
    mkdirSync(join(dir, p.name), { recursive: true });
    writeFileSync(join(dir, p.name, 'processor.json'), JSON.stringify({ processorId: p.processorId, name: p.name, type: 'python_pip_2', userId: USER, isPublic: 0 }));
  }
  return dir;
}

/** A node's store, made before its process starts (so this process can read it throughout), with the bench's user. */
async function nodeStore(root: string): Promise<{ store: SqliteStore; token: string; dataDir: string }> {
  const dataDir = join(root, 'data');
  const store = new SqliteStore(join(dataDir, EMBEDDED_STORE_FILE));
  await store.saveUser({ userId: USER, role: 'USER' });
  return { store, token: await createSession(store, USER), dataDir };
}

/** Sends every processor's changes: one client per processor, each sending its commands back to back. */
async function sendAll(url: string, token: string, procs: readonly Proc[]): Promise<string[]> {
  const http = got.extend({ prefixUrl: url, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 60_000 }, headers: { 'x-session-token': token }, agent: {} });
  const ids: string[] = [];
  await Promise.all(procs.map(async (p) => {
    for (let j = 0; j < CHANGES; j++) {
      const res = await http.get('packageManager/environmentupdate', { searchParams: { processorId: p.processorId, workspace: '-', updateCommand: command(p, j) } });
      if (res.statusCode !== 200) {
        problem(`${p.name}: environmentupdate answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
        continue;
      }
      ids.push((JSON.parse(res.body) as { processObjId: string }).processObjId);
    }
  }));
  return ids;
}

/** Waits until every id is final in the store; answers the latest end time (ms since the epoch), NaN if any is not DONE. */
async function lastEnd(store: SqliteStore, ids: readonly string[], timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let end = 0;
  for (const id of ids) {
    for (;;) {
      const op = await store.findOperation(id);
      if (op && isFinal(op.status)) {
        if (op.status !== 'DONE') {
          problem(`operation ${id} of ${op.productName} ended ${op.status}`);
          return Number.NaN;
        }
        end = Math.max(end, op.operationEndTimestamp ?? Number.NaN);
        break;
      }
      if (Date.now() > deadline) {
        problem(`operation ${id} not final within ${timeoutMs / 1000} s`);
        return Number.NaN;
      }
      await sleep(10);
    }
  }
  return end;
}

/** Each processor's DONE commands on a node, in the order they ran: every change once, in the main node's order. */
async function checkApplied(store: SqliteStore, procs: readonly Proc[], label: string): Promise<{ operations: number; catchUps: number }> {
  let operations = 0;
  let catchUps = 0;
  for (const p of procs) {
    const ops = (await store.listOperations({ processorName: p.name, limit: 1000 })).filter((op) => op.status === 'DONE');
    ops.sort((a, b) => (a.operationStartTimestamp ?? 0) - (b.operationStartTimestamp ?? 0));
    const ran = ops.flatMap((op) => op.commands);
    const want = Array.from({ length: CHANGES }, (_, j) => command(p, j));
    if (ran.join('\n') !== want.join('\n')) problem(`${label} ${p.name}: ran [${ran.join(', ')}], expected [${want.join(', ')}]`);
    operations += ops.length;
    catchUps += ops.filter((op) => op.sync).length;
  }
  return { operations, catchUps };
}

interface Round { direct: number; catchUp: number; start: number; operations: number; catchUps: number }

async function round(r: number): Promise<Round | undefined> {
  const root = mkdtempSync(join(tmpdir(), 'procenv-bench-catch-up-'));
  const procs: Proc[] = Array.from({ length: PROCESSORS }, (_, i) => ({ name: `bench_p${String(i).padStart(3, '0')}`, processorId: randomUUID() }));
  const key = randomBytes(24).toString('hex');
  const children: Child[] = [];
  const stores: SqliteStore[] = [];
  try {
    // ── The reference: the same changes queued directly on one node. ──
    const direct = await nodeStore(join(root, 'direct'));
    stores.push(direct.store);
    const directUp = await startChild('procenv-noop-server.ts', [direct.dataDir, processorsFolder(join(root, 'direct'), procs), '{}']);
    children.push(directUp.child);
    const sent = Date.now();
    const directIds = await sendAll(directUp.url, direct.token, procs);
    const directEnd = await lastEnd(direct.store, directIds);
    if (directIds.length !== TOTAL) return undefined;
    await checkApplied(direct.store, procs, 'direct');
    await stopChild(directUp.child);

    // ── The main node takes the changes while the compute node is down. ──
    const main = await nodeStore(join(root, 'main'));
    stores.push(main.store);
    const port = await freePort();
    await main.store.saveNode({ nodeCode: NODE, nodeBaseAddress: `http://127.0.0.1:${port}`, active: true });
    // Its deliveries to the stopped node fail, and each failure is a warning: errors only, to keep the output readable.
    const mainOverrides = { nodeCode: MAIN, mainNodeCode: MAIN, logLevel: 'error' };
    const mainUp = await startChild('procenv-noop-server.ts', [main.dataDir, processorsFolder(join(root, 'main'), procs), JSON.stringify(mainOverrides)], [], { BENCH_CLUSTER_KEY: key });
    children.push(mainUp.child);
    const mainIds = await sendAll(mainUp.url, main.token, procs);
    if (mainIds.length !== TOTAL || Number.isNaN(await lastEnd(main.store, mainIds))) return undefined;
    const failed = (await main.store.listDeliveries({ nodeCode: NODE })).filter((d) => d.state !== 'delivered' && d.state !== 'applied');
    if (failed.length !== TOTAL) problem(`round ${r}: ${failed.length} of ${TOTAL} deliveries to the stopped node are undelivered (expected all)`);

    // ── The compute node comes back. ──
    const node = await nodeStore(join(root, 'node'));
    stores.push(node.store);
    const nodeOverrides = { nodeCode: NODE, mainNodeCode: MAIN, mainUrl: mainUp.url, port };
    const spawned = Date.now();
    const nodeUp = await startChild('procenv-noop-server.ts', [node.dataDir, processorsFolder(join(root, 'node'), procs), JSON.stringify(nodeOverrides)], [], { BENCH_CLUSTER_KEY: key });
    children.push(nodeUp.child);
    const listening = Date.now();
    const deadline = listening + 120_000;
    let converged = Number.NaN;
    for (;;) {
      const states = await Promise.all(procs.map((p) => node.store.findSyncState(p.name)));
      if (states.every((s) => s?.applied === CHANGES)) {
        converged = Date.now();
        break;
      }
      if (Date.now() > deadline) {
        problem(`round ${r}: the compute node had not caught up after 120 s (${states.filter((s) => s?.applied === CHANGES).length} of ${PROCESSORS} processors)`);
        return undefined;
      }
      await sleep(10);
    }
    // Let late delivery retries arrive, then check that none ran a change twice.
    await sleep(1500);
    const applied = await checkApplied(node.store, procs, `round ${r} compute node`);
    return { direct: directEnd - sent, catchUp: converged - listening, start: listening - spawned, ...applied };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    for (const store of stores) await store.close();
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  console.log(`Node ${process.version}; ${PROCESSORS} processors × ${CHANGES} changes = ${TOTAL} changes; no-op package managers; ${ROUNDS} rounds`);
  const rounds: Round[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const got = await round(r);
    if (!got) break;
    rounds.push(got);
    console.log(`round ${r}: direct ${got.direct} ms; catch-up ${got.catchUp} ms (${(got.catchUp / got.direct).toFixed(2)} ×; compute node spawn → listening ${got.start} ms); `
      + `the node ran the ${TOTAL} changes in ${got.operations} operations, ${got.catchUps} of them catch-ups`);
  }
  if (problems.length || rounds.length !== ROUNDS) {
    console.log(`\nINVALID:\n  - ${problems.join('\n  - ')}`);
    return 1;
  }
  const direct = median(rounds.map((x) => x.direct));
  const catchUp = median(rounds.map((x) => x.catchUp));
  const ratio = catchUp / direct;
  console.log(`\nmedian: direct ${direct} ms, catch-up ${catchUp} ms: ratio ${ratio.toFixed(2)} (per round ${rounds.map((x) => (x.catchUp / x.direct).toFixed(2)).join(', ')})`);
  const pass = ratio <= TARGET;
  console.log(`target ≤ ${TARGET} × the direct run: ${pass ? 'PASS' : 'FAIL'}`);
  return pass ? 0 : 1;
}

process.exitCode = await main().catch((err) => {
  console.error(`INVALID: ${(err as Error).message}`);
  return 1;
});
