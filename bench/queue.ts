/**
 * bench/queue: operations/s through the whole path (HTTP environmentupdate → stored CREATED → the worker claims →
 * runs with a no-op package manager → DONE, envActionsList.txt and packagesInfo.json written), and the time from
 * request to RUNNING with idle workers, next to a bare insert + claim + update-to-DONE + read loop on the same store
 * type (a SqliteStore file in the same temp folder), measured in the same run. No target in the issue: the ratio
 * is reported; PASS means a valid run (every request answered 200, every operation DONE, none lost, none twice,
 * each processor's history in the order sent).
 *
 * procenv (`servers/procenv-noop-server.ts`: the real `startService`, managers replaced by `servers/noop-manager.ts`)
 * runs as a child process, as in bench/list-packages: the HTTP clients do not share its event loop. Completion is
 * observed through the store file (SQLite WAL: a reader in this process never blocks the service's writer), and
 * every figure is taken from the timestamps the service stored, so the polling interval does not enter them.
 *
 *   node --import tsx bench/queue.ts [--processors 10] [--ops 50] [--concurrency 4] [--rounds 3] [--samples 200]
 *                                    [--poll-samples 5]
 *                                    [--profile DIR]   (also writes a --cpu-prof of the procenv process)
 *
 * Exit code: 0 PASS (a valid run), 1 an invalid run (errors, lost or failed operations, wrong history).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import got from 'got';
import { writeFileAtomic } from '../src/catalog/files.ts';
import { createSession } from '../src/cli.ts';
import { isFinal, type Operation } from '../src/domain/operation.ts';
import { SqliteStore } from '../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE } from '../src/store/open.ts';
import type { Store } from '../src/store/types.ts';
import { cpuSeconds, integerOption, median, quantile, startChild, stopChild } from './servers/child.ts';
import { NOOP_VERSION } from './servers/noop-manager.ts';

const USER = 'bench-user';
const NODE = 'wasdi';

const { values: opts } = parseArgs({
  options: {
    processors: { type: 'string', default: '10' },
    ops: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    samples: { type: 'string', default: '200' },
    'poll-samples': { type: 'string', default: '5' },
    profile: { type: 'string' },
  },
});
const PROCESSORS = integerOption(opts, 'processors');
const OPS = integerOption(opts, 'ops');
const CONCURRENCY = integerOption(opts, 'concurrency');
const ROUNDS = integerOption(opts, 'rounds');
const SAMPLES = integerOption(opts, 'samples');
const POLL_SAMPLES = integerOption(opts, 'poll-samples', 0);
const N = PROCESSORS * OPS;

interface Proc { name: string; processorId: string; folder: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const problems: string[] = [];

/** Polls the store until every id is final; answers the operations (undefined for one never seen). */
async function waitFinal(store: Store, ids: readonly string[], timeoutMs: number, everyMs: number): Promise<(Operation | undefined)[]> {
  const deadline = Date.now() + timeoutMs;
  const done = new Map<string, Operation>();
  for (;;) {
    for (const id of ids) {
      if (done.has(id)) continue;
      const op = await store.findOperation(id);
      if (op && isFinal(op.status)) done.set(id, op);
    }
    if (done.size === ids.length || Date.now() > deadline) return ids.map((id) => done.get(id));
    await sleep(everyMs);
  }
}

/** Counts what is wrong with finished operations: not stored, not final in time, or not DONE. */
function judge(ops: (Operation | undefined)[], what: string): Operation[] {
  const ok = ops.filter((o): o is Operation => o?.status === 'DONE');
  const lost = ops.filter((o) => o === undefined).length;
  const failed = ops.filter((o) => o && o.status !== 'DONE');
  if (lost) problems.push(`${what}: ${lost} operations not final in time (lost or stuck)`);
  if (failed.length) problems.push(`${what}: ${failed.length} operations ended ${failed[0]!.status} (${failed[0]!.error?.code}: ${failed[0]!.error?.message})`);
  return ok;
}

/** The reference: insert + claim + update to DONE + read on a SqliteStore of its own, ops/s. */
async function bareLoop(store: Store, procs: readonly Proc[], round: number): Promise<{ opsPerSec: number; cpuMs: number }> {
  let wrong = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const p = procs[i % procs.length]!;
    const now = Date.now();
    const id = randomUUID();
    await store.insertOperation({
      processObjId: id, operationType: 'ENVIRONMENTUPDATE', processorId: p.processorId, productName: p.name, workspaceId: '-',
      userId: USER, nodeCode: NODE, status: 'CREATED', commands: [`addPackage/bb-r${round}-${i}/`],
      operationTimestamp: now, lastStateChangeTimestamp: now, progressPerc: 0,
    });
    const claimed = await store.claimNextOperation(NODE, 'bare-loop', now + 15_000, Date.now());
    if (claimed?.processObjId !== id) wrong++;
    const end = Date.now();
    await store.updateOperation(id, ['RUNNING'], { status: 'DONE', operationEndTimestamp: end, lastStateChangeTimestamp: end, durationMs: end - now, progressPerc: 100 });
    if ((await store.findOperation(id))?.status !== 'DONE') wrong++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (wrong) problems.push(`bare loop round ${round}: ${wrong} wrong claims or reads`);
  return { opsPerSec: N / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / N };
}

async function main(): Promise<number> {
  console.log(`node ${process.version}`);
  const root = mkdtempSync(join(tmpdir(), 'procenv-bench-queue-'));
  let child: Awaited<ReturnType<typeof startChild>>['child'] | undefined;
  const stores: Store[] = [];
  try {
    const dataDir = join(root, 'data');
    const processorsDir = join(root, 'processors');
    const procs: Proc[] = Array.from({ length: PROCESSORS }, (_, i) => {
      const name = `bench_q_${String(i).padStart(2, '0')}`;
      return { name, processorId: randomUUID(), folder: join(processorsDir, name) };
    });
    for (const p of procs) {
      mkdirSync(p.folder, { recursive: true });
      // Owned by a plain user, not public: the request goes through the session, the user and the ownership check.
      writeFileSync(join(p.folder, 'processor.json'), JSON.stringify({ processorId: p.processorId, name: p.name, type: 'python_pip_2', userId: USER, isPublic: 0 }));
    }
    const store = new SqliteStore(join(dataDir, EMBEDDED_STORE_FILE));
    stores.push(store);
    await store.saveUser({ userId: USER, role: 'USER' });
    const token = await createSession(store, USER);
    const bare = new SqliteStore(join(root, 'bare', EMBEDDED_STORE_FILE));
    stores.push(bare);

    const profileArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
    const started = await startChild('procenv-noop-server.ts', [dataDir, processorsDir, JSON.stringify({ 'queue.concurrency': CONCURRENCY })], profileArgs);
    child = started.child;
    const http = got.extend({ prefixUrl: started.url, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 30_000 }, headers: { 'x-session-token': token } });
    let httpErrors = 0;
    const update = async (p: Proc, command: string): Promise<string | undefined> => {
      try {
        const res = await http.get('packageManager/environmentupdate', { searchParams: { processorId: p.processorId, workspace: '-', updateCommand: command } });
        if (res.statusCode === 200) return (JSON.parse(res.body) as { processObjId: string }).processObjId;
        httpErrors++;
        if (httpErrors <= 3) problems.push(`environmentupdate answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
      } catch (err) {
        httpErrors++;
        if (httpErrors <= 3) problems.push(`environmentupdate failed: ${(err as Error).message}`);
      }
      return undefined;
    };

    // ── Correctness first: one operation through the whole path, the files it writes, the API's view of it. ──
    const p0 = procs[0]!;
    const anonymous = await got.get(`${started.url}/packageManager/environmentupdate`, { searchParams: { processorId: p0.processorId, updateCommand: 'addPackage/x/' }, throwHttpErrors: false, retry: { limit: 0 } });
    if (anonymous.statusCode !== 401) throw new Error(`environmentupdate without a token answered ${anonymous.statusCode}, expected 401`);
    const firstId = await update(p0, 'addPackage/bench-check/');
    if (!firstId) throw new Error(`the first environmentupdate failed: ${problems.join('; ')}`);
    const [first] = await waitFinal(store, [firstId], 30_000, 5);
    const view = await http.get(`operations/${firstId}`);
    const viewed = view.statusCode === 200 ? (JSON.parse(view.body) as Operation) : undefined;
    const info = JSON.parse(readFileSync(join(p0.folder, 'packagesInfo.json'), 'utf8')) as { packageManager?: { version?: string } };
    const history = readFileSync(join(p0.folder, 'envActionsList.txt'), 'utf8').trim().split('\n');
    const log = await store.readOperationLog(firstId);
    const check = [
      [first?.status === 'DONE', `the operation ended ${first?.status ?? 'never'} (${first?.error?.message ?? ''})`],
      [viewed?.status === 'DONE', `GET /operations/:id answered ${view.statusCode} ${viewed?.status ?? ''}`],
      [info.packageManager?.version === NOOP_VERSION.version, 'packagesInfo.json does not hold the no-op snapshot'],
      [history.at(-1) === 'addPackage/bench-check/', `envActionsList.txt ends with ${history.at(-1)}`],
      [log.some((l) => l.line.startsWith('noop addPackage bench-check')), 'the operation log lacks the no-op manager line'],
    ] as const;
    const failedChecks = check.filter(([ok]) => !ok).map(([, why]) => why);
    if (failedChecks.length) throw new Error(`verification failed:\n  - ${failedChecks.join('\n  - ')}`);
    await bareLoop(bare, procs, 0); // also checks its own claims and reads; warms the statements
    console.log(`verified: environmentupdate → DONE through the worker and the no-op manager; packagesInfo.json, envActionsList.txt,`);
    console.log(`operation log and GET /operations/:id agree; 401 without a token; the bare loop claims and reads what it inserted.\n`);

    // ── Request → RUNNING with idle workers, one operation at a time. ──
    const stored: number[] = [];
    const client: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const p = procs[i % procs.length]!;
      const sent = Date.now();
      const id = await update(p, `addPackage/lat-${i}/`);
      if (!id) continue;
      const [op] = await waitFinal(store, [id], 30_000, 2);
      const [ok] = judge([op], 'latency sample');
      if (!ok) continue;
      stored.push(ok.operationStartTimestamp! - ok.operationTimestamp);
      client.push(ok.operationStartTimestamp! - sent);
      total.push(ok.operationEndTimestamp! - sent);
      await sleep(5); // the worker's wake after the end has settled: the next request finds it idle
    }
    console.log(`request → RUNNING, idle workers, ${stored.length} samples one at a time (ms; stored timestamps, 1 ms resolution):`);
    console.log(`  stored operationTimestamp → operationStartTimestamp   median ${fmt(median(stored), 1)}   p90 ${fmt(quantile(stored, 0.9))}   max ${fmt(Math.max(...stored))}`);
    console.log(`  client send → RUNNING (incl. HTTP, auth, insert)      median ${fmt(median(client), 1)}   p90 ${fmt(quantile(client, 0.9))}`);
    console.log(`  client send → DONE (whole path, no-op manager)        median ${fmt(median(total), 1)}   p90 ${fmt(quantile(total, 0.9))}`);

    // ── The fallback: an operation another process puts in the store is seen only by the worker's poll. ──
    const polled: number[] = [];
    for (let i = 0; i < POLL_SAMPLES; i++) {
      const p = procs[i % procs.length]!;
      await sleep(Math.random() * 1000); // a random phase against the 1 s poll
      const now = Date.now();
      const id = randomUUID();
      await store.insertOperation({
        processObjId: id, operationType: 'ENVIRONMENTUPDATE', processorId: p.processorId, productName: p.name, workspaceId: '-',
        userId: USER, nodeCode: NODE, status: 'CREATED', commands: [`addPackage/poll-${i}/`], operationTimestamp: now, lastStateChangeTimestamp: now, progressPerc: 0,
      });
      const [ok] = judge(await waitFinal(store, [id], 10_000, 5), 'poll sample');
      if (ok) polled.push(ok.operationStartTimestamp! - ok.operationTimestamp);
    }
    if (POLL_SAMPLES) console.log(`  inserted by another process (no wake-up, 1 s poll)   median ${fmt(median(polled))}   max ${fmt(Math.max(...polled))}  (${polled.length} samples)`);

    // ── Throughput: rounds alternating the bare loop and procenv, so drift hits both. ──
    console.log(`\nthroughput: ${PROCESSORS} processors × ${OPS} operations = ${N} per round, queue.concurrency ${CONCURRENCY}, ${PROCESSORS} clients (one per processor, requests back to back)`);
    const rounds: { procenv: number; accept: number; runMs: number; cpuMs: number; bare: number; bareCpuMs: number }[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const row = { procenv: 0, accept: 0, runMs: 0, cpuMs: Number.NaN, bare: 0, bareCpuMs: 0 };
      const order = r % 2 === 1 ? (['bare', 'procenv'] as const) : (['procenv', 'bare'] as const);
      for (const which of order) {
        if (which === 'bare') {
          ({ opsPerSec: row.bare, cpuMs: row.bareCpuMs } = await bareLoop(bare, procs, r));
          continue;
        }
        const cpu0 = cpuSeconds(child.pid);
        const t0 = Date.now();
        const sent = procs.map((p) => Array.from({ length: OPS }, (_, i) => `addPackage/tp-r${r}-${p.name.slice(-2)}-${i}/`));
        const ids = await Promise.all(procs.map(async (p, k) => {
          const mine: (string | undefined)[] = [];
          for (const command of sent[k]!) mine.push(await update(p, command));
          return mine;
        }));
        const accepted = Date.now();
        const flat = ids.flat().filter((x): x is string => x !== undefined);
        if (new Set(flat).size !== flat.length) problems.push(`round ${r}: an operation id was answered twice`);
        const ops = judge(await waitFinal(store, flat, 120_000, 20), `round ${r}`);
        const cpu1 = cpuSeconds(child.pid);
        if (cpu0 !== undefined && cpu1 !== undefined) row.cpuMs = ((cpu1 - cpu0) * 1000) / N;
        const end = Math.max(...ops.map((o) => o.operationEndTimestamp!));
        row.procenv = ops.length / ((end - t0) / 1000);
        row.accept = flat.length / ((accepted - t0) / 1000);
        row.runMs = median(ops.map((o) => o.durationMs ?? Number.NaN));
        const inStore = await store.listOperations({ since: t0, limit: 100_000 });
        if (inStore.length !== N) problems.push(`round ${r}: ${inStore.length} operations stored since the round began, expected ${N}`);
        // Each processor's history must end with this round's commands, in the order sent (one at a time, FIFO).
        for (const [k, p] of procs.entries()) {
          const lines = readFileSync(join(p.folder, 'envActionsList.txt'), 'utf8').trim().split('\n').slice(-OPS);
          if (lines.join('\n') !== sent[k]!.join('\n')) problems.push(`round ${r}: envActionsList.txt of ${p.name} is not the ${OPS} commands in the order sent`);
        }
      }
      rounds.push(row);
      console.log(`round ${r}  procenv ${fmt(row.procenv).padStart(5)} ops/s, ${fmt(row.cpuMs, 2)} ms CPU/op (accepted at ${fmt(row.accept)}/s, claim → DONE median ${fmt(row.runMs)} ms)   bare loop ${fmt(row.bare).padStart(5)} ops/s, ${fmt(row.bareCpuMs, 3)} ms CPU/op   ratio ${(row.procenv / row.bare).toFixed(3)}`);
    }

    // Where an operation's time goes besides the store: two atomic file writes (temp file, fsync, rename) per
    // operation, synchronous, on the service's event loop. Timed here on the same disk, after the rounds.
    const writes: number[] = [];
    for (let i = 0; i < 110; i++) {
      const t = performance.now();
      writeFileAtomic(join(root, 'fsync-probe.json'), JSON.stringify({ i, packageManager: NOOP_VERSION }));
      if (i >= 10) writes.push(performance.now() - t);
    }

    const p = median(rounds.map((x) => x.procenv));
    const b = median(rounds.map((x) => x.bare));
    const pc = median(rounds.map((x) => x.cpuMs));
    const bc = median(rounds.map((x) => x.bareCpuMs));
    console.log(`\n                    ops/s   CPU ms/op   (medians of ${ROUNDS} rounds)`);
    console.log(`procenv, whole path ${fmt(p).padStart(5)}${fmt(pc, 2).padStart(12)}   HTTP → store → worker → no-op manager → files → DONE (service process)`);
    console.log(`bare store loop     ${fmt(b).padStart(5)}${fmt(bc, 3).padStart(12)}   insert + claim + update to DONE + read, one SqliteStore`);
    console.log(`ratio procenv / bare = ${(p / b).toFixed(3)}; per-round ${rounds.map((x) => (x.procenv / x.bare).toFixed(3)).join(', ')}; CPU per operation ${(pc / bc).toFixed(0)}× the bare loop's`);
    console.log(`one atomic file write (temp file + fsync + rename) on this disk: median ${median(writes).toFixed(2)} ms, p90 ${quantile(writes, 0.9).toFixed(2)} ms;`);
    console.log(`each operation makes two (envActionsList.txt, packagesInfo.json), synchronously on the service's event loop`);
    console.log('the worker is woken synchronously when an operation is stored through this service (wake-up on insert); an operation');
    console.log('stored by another process is found by the 1 s poll (and the lease heartbeat), as the figure above shows.');
    if (httpErrors) problems.push(`${httpErrors} environmentupdate requests failed`);
    if (problems.length) {
      console.log(`\nINVALID:\n  - ${problems.join('\n  - ')}`);
      return 1;
    }
    console.log(`\nPASS: a valid run (${ROUNDS * N + SAMPLES + POLL_SAMPLES + 1} operations, every request answered 200, every operation DONE, none lost, histories in order)`);
    return 0;
  } finally {
    if (child) await stopChild(child);
    for (const s of stores) await s.close();
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((err) => {
  console.error(`INVALID: ${(err as Error).message}`);
  return 1;
});
