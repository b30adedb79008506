/**
 * bench/fanout: the time until a change accepted by the main node is accepted by N compute nodes (default 100), next
 * to the same change with a single compute node and to sequential delivery as WASDI does it (one node after the
 * other, UpdateProcessorEnvironmentWorker), all in the same run. Target (issue): N nodes take at most 1.5 × the
 * time of one node.
 *
 * The main node is real procenv in a child process (`servers/procenv-noop-server.ts`: `startService` with
 * nodeCode = mainNodeCode, a cluster key, cluster.concurrency ≥ N, no-op package managers so that its own run of
 * the change costs no pip). The compute nodes are N fakes on loopback in this process (`servers/fake-compute-node.ts`)
 * that check the cluster key and answer 200 `{ processObjId }` after a fixed delay; they record when each delivery
 * arrived and when it was answered (`performance.now()`, sub-millisecond), so that no polling enters the figures.
 * The store's view (the operation's timestamp → the last delivery recorded `delivered`, ms) is printed beside it.
 *
 *   node --import tsx bench/fanout.ts [--nodes 100] [--changes 10] [--warmup 2] [--delay 50] [--cluster-concurrency 100]
 *
 * Exit code: 0 PASS, 1 FAIL (ratio above target) or an invalid run (a refused, missing, repeated or retried delivery).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import got from 'got';
import { createSession } from '../src/cli.ts';
import type { Delivery } from '../src/domain/cluster.ts';
import { PeerClient } from '../src/nodes/peer-client.ts';
import { SqliteStore } from '../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE } from '../src/store/open.ts';
import { integerOption, median, quantile, startChild, stopChild } from './servers/child.ts';
import { FakeComputeNode } from './servers/fake-compute-node.ts';

const TARGET = 1.5;
const MAIN = 'wasdi';
const USER = 'bench-user';

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    changes: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    delay: { type: 'string', default: '50' },
    'cluster-concurrency': { type: 'string', default: '100' },
    profile: { type: 'string' },
  },
});
const NODES = integerOption(opts, 'nodes');
const CHANGES = integerOption(opts, 'changes');
const WARMUP = integerOption(opts, 'warmup', 0);
const DELAY = integerOption(opts, 'delay', 0);
const CLUSTER_CONCURRENCY = integerOption(opts, 'cluster-concurrency');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const problems: string[] = [];
const problem = (text: string) => {
  if (problems.length < 20) problems.push(text);
};

/** One change through the main node, timed on the fakes (ms, from the main's 200 answer) and in the store. */
interface Timed {
  id: string;
  /** main's 200 answer → the last node's 200 answer */
  wall: number;
  /** the request sent → the main's 200 answer */
  accept: number;
  /** the request sent → first / last delivery received by a node */
  firstIn: number;
  lastIn: number;
  /** the fakes' own lateness: the longest receive → answer of this change minus the delay they were told */
  lag: number;
  /** operationTimestamp → the last delivery stored `delivered` (main node clock, 1 ms resolution) */
  stored: number;
  /** the last node's answer → the last delivery stored (this clock against the main's; ±1–2 ms) */
  recordLag: number;
}

async function main(): Promise<number> {
  console.log(`node ${process.version}`);
  const root = mkdtempSync(join(tmpdir(), 'procenv-bench-fanout-'));
  const key = randomBytes(24).toString('hex');
  const fakes = await Promise.all(Array.from({ length: NODES }, (_, i) => new FakeComputeNode(`cn${String(i + 1).padStart(3, '0')}`, key, DELAY).start()));
  const store = new SqliteStore(join(root, 'data', EMBEDDED_STORE_FILE));
  let child: Awaited<ReturnType<typeof startChild>>['child'] | undefined;
  try {
    const processorsDir = join(root, 'processors');
    const processorId = randomUUID();
    mkdirSync(join(processorsDir, 'bench_fan'), { recursive: true });
    writeFileSync(join(processorsDir, 'bench_fan', 'processor.json'), JSON.stringify({ processorId, name: 'bench_fan', type: 'python_pip_2', userId: USER, isPublic: 0 }));
    await store.saveUser({ userId: USER, role: 'USER' });
    const token = await createSession(store, USER);
    const setActive = async (count: number) => {
      for (const [i, f] of fakes.entries()) await store.saveNode({ nodeCode: f.nodeCode, nodeBaseAddress: f.url, active: i < count });
    };
    await setActive(NODES);

    const overrides = { nodeCode: MAIN, mainNodeCode: MAIN, 'cluster.concurrency': CLUSTER_CONCURRENCY };
    const profileArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
    const started = await startChild('procenv-noop-server.ts', [join(root, 'data'), processorsDir, JSON.stringify(overrides)], profileArgs, { BENCH_CLUSTER_KEY: key });
    child = started.child;
    const http = got.extend({ prefixUrl: started.url, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 30_000 }, headers: { 'x-session-token': token } });

    /** Sends one change with `count` nodes active; checks every delivery; answers its times. */
    const change = async (count: number, label: string): Promise<Timed | undefined> => {
      await setActive(count);
      const command = `addPackage/fan-${label}/`;
      const t0 = performance.now();
      const res = await http.get('packageManager/environmentupdate', { searchParams: { processorId, workspace: '-', updateCommand: command } });
      const accepted = performance.now();
      if (res.statusCode !== 200) {
        problem(`${label}: environmentupdate answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
        return undefined;
      }
      const id = (JSON.parse(res.body) as { processObjId: string }).processObjId;
      const targets = fakes.slice(0, count);
      // Event-driven: resolve on the answer that completes the set, or give up after 10 s.
      await new Promise<void>((resolve) => {
        const offs: (() => void)[] = [];
        const done = () => {
          clearTimeout(timer);
          for (const off of offs) off();
          resolve();
        };
        const timer = setTimeout(done, 10_000);
        const check = () => {
          if (targets.every((f) => f.answered(id).length > 0)) done();
        };
        for (const f of targets) offs.push(f.onAnswer(check));
        check();
      });
      const seen = targets.map((f) => f.answered(id));
      if (seen.some((s) => s.length !== 1)) {
        problem(`${label}: deliveries per node ${seen.map((s) => s.length).join(',')} (expected one each)`);
        return undefined;
      }
      const all = seen.map((s) => s[0]!);
      const bad = all.filter((d) => d.processorId !== processorId || d.commands.join() !== command || d.via !== MAIN);
      if (bad.length) problem(`${label}: ${bad.length} deliveries with the wrong processor, command or via header`);
      if (fakes.slice(count).some((f) => f.deliveries.some((d) => d.origin === id))) problem(`${label}: an inactive node got the change`);
      // The main node's own record: every delivery `delivered` (or already `applied`) at the first attempt.
      let deliveries: Delivery[] = [];
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(5)) {
        deliveries = await store.listDeliveries({ operationId: id });
        if (deliveries.length === count && deliveries.every((d) => d.state === 'delivered' || d.state === 'applied')) break;
      }
      const notDelivered = deliveries.filter((d) => d.state !== 'delivered' && d.state !== 'applied');
      if (deliveries.length !== count || notDelivered.length) problem(`${label}: ${deliveries.length} deliveries stored, ${notDelivered.length} not delivered (${notDelivered[0]?.lastError ?? ''})`);
      if (deliveries.some((d) => d.attempts !== 1)) problem(`${label}: a delivery needed a retry`);
      const op = await store.findOperation(id);
      return {
        id,
        wall: Math.max(...all.map((d) => d.answeredAt!)) - accepted,
        accept: accepted - t0,
        firstIn: Math.min(...all.map((d) => d.receivedAt)) - t0,
        lastIn: Math.max(...all.map((d) => d.receivedAt)) - t0,
        lag: Math.max(...all.map((d) => d.answeredAt! - d.receivedAt)) - DELAY,
        stored: Math.max(...deliveries.map((d) => d.updatedAt)) - (op?.operationTimestamp ?? Number.NaN),
        recordLag: Math.max(...deliveries.map((d) => d.updatedAt)) - (performance.timeOrigin + Math.max(...all.map((d) => d.answeredAt!))),
      };
    };

    /** WASDI's UpdateProcessorEnvironmentWorker: the same call to each node in turn, with got (no store, no retry). */
    const peer = new PeerClient({ nodeCode: MAIN, clusterKey: key, timeoutMs: 10_000 });
    const sequential = async (label: string): Promise<number> => {
      const t0 = performance.now();
      for (const f of fakes) {
        const res = await peer.environmentUpdate(f.url, { processorId, workspace: '-', commands: [`addPackage/fan-${label}/`], userId: USER, originOperationId: `seq-${label}` });
        if (res.statusCode !== 200) problem(`${label}: ${f.nodeCode} answered ${res.statusCode} to the sequential loop`);
      }
      return performance.now() - t0;
    };

    // ── Correctness first: one change to all nodes, the API's view of it, and the fakes' key check. ──
    const check = await change(NODES, 'check');
    const view = check ? await http.get(`operations/${check.id}`) : undefined;
    const nodesView = view?.statusCode === 200 ? (JSON.parse(view.body) as { nodes?: { state: string }[] }).nodes ?? [] : [];
    if (nodesView.length !== NODES || !nodesView.every((n) => n.state === 'delivered' || n.state === 'applied')) problem(`GET /operations/:id lists ${nodesView.length} nodes delivered, expected ${NODES}`);
    const wrongKey = await got.get(`${fakes[0]!.url}/packageManager/environmentupdate`, { headers: { 'x-procenv-cluster-key': 'wrong' }, throwHttpErrors: false, retry: { limit: 0 } });
    if (wrongKey.statusCode !== 401) problem(`a fake node answered ${wrongKey.statusCode} to a wrong key`);
    fakes[0]!.refused = 0;
    if (!check || problems.length) throw new Error(`verification failed:\n  - ${problems.join('\n  - ')}`);
    console.log(`verified: one change reaches all ${NODES} nodes once each, with the key, the processor, the command and the via header;`);
    console.log(`the main node stores ${NODES} deliveries delivered at the first attempt and GET /operations/:id lists them; a wrong key gets 401.`);
    console.log(`compute nodes answer after ${DELAY} ms; cluster.concurrency ${CLUSTER_CONCURRENCY}; ${WARMUP} warm-up + ${CHANGES} measured changes, the three measurements interleaved\n`);

    const one: Timed[] = [];
    const many: Timed[] = [];
    const seq: number[] = [];
    for (let c = 0; c < WARMUP + CHANGES; c++) {
      const measured = c >= WARMUP;
      // Rotate which measurement goes first, so that none always follows another.
      const order = (['one', 'many', 'seq'] as const).map((_, i, a) => a[(i + c) % 3]!);
      const row: string[] = [];
      for (const which of order) {
        await sleep(20);
        if (which === 'seq') {
          const ms = await sequential(`c${c}`);
          if (measured) seq.push(ms);
          row.push(`sequential ${ms.toFixed(0)} ms`);
          continue;
        }
        const t = await change(which === 'one' ? 1 : NODES, `c${c}-${which}`);
        if (t && measured) (which === 'one' ? one : many).push(t);
        if (t) row.push(`${which === 'one' ? '1 node' : `${NODES} nodes`} ${t.wall.toFixed(1)} ms`);
      }
      console.log(`${measured ? `change ${c - WARMUP + 1}` : `warm-up ${c + 1}`}: ${row.join('   ')}`);
    }
    await setActive(NODES);

    // The check, then one per change (cn01 also gets the one-node changes).
    for (const [i, f] of fakes.entries()) {
      const procenv = f.deliveries.filter((d) => !d.origin.startsWith('seq-')).length;
      const want = 1 + (WARMUP + CHANGES) * (i === 0 ? 2 : 1);
      if (procenv !== want) problem(`${f.nodeCode} got ${procenv} deliveries from the main node, expected ${want}`);
      if (f.refused || f.unexpected) problem(`${f.nodeCode}: ${f.refused} refused and ${f.unexpected} unexpected requests`);
    }

    const m = (xs: Timed[], k: Exclude<keyof Timed, 'id'>) => median(xs.map((x) => x[k]));
    const fmt = (x: number) => x.toFixed(1).padStart(8);
    console.log('\nmedians, ms          accepted → all     p90   store: op → all   send →     send → first / last   fakes late   last answer →');
    console.log('                     nodes answered         delivered         accepted   received by a node   (max)       last stored');
    for (const [name, xs] of [['1 node', one], [`${NODES} nodes procenv`, many]] as const) {
      console.log(`${name.padEnd(18)}${fmt(m(xs, 'wall'))}${fmt(quantile(xs.map((x) => x.wall), 0.9))}${fmt(m(xs, 'stored')).padStart(17)}${fmt(m(xs, 'accept')).padStart(11)}${`${m(xs, 'firstIn').toFixed(1)} / ${m(xs, 'lastIn').toFixed(1)}`.padStart(20)}${fmt(m(xs, 'lag')).padStart(11)}${fmt(m(xs, 'recordLag')).padStart(14)}`);
    }
    console.log(`${`${NODES} nodes sequential`.padEnd(18)}${fmt(median(seq))}${fmt(quantile(seq, 0.9))}   (loop start → last answer: the same client, one node after the other)`);
    const ratio = m(many, 'wall') / m(one, 'wall');
    const storedRatio = m(many, 'stored') / m(one, 'stored');
    const paired = many.map((x, i) => x.wall / one[i]!.wall);
    console.log(`\nratio ${NODES} nodes / 1 node = ${ratio.toFixed(2)} (store's view ${storedRatio.toFixed(2)}; per change ${paired.map((x) => x.toFixed(2)).join(', ')})`);
    console.log(`speed-up vs sequential delivery: ${(median(seq) / m(many, 'wall')).toFixed(1)}×`);
    if (one.length !== CHANGES || many.length !== CHANGES) problem(`only ${one.length} + ${many.length} of ${CHANGES} + ${CHANGES} changes measured`);
    if (problems.length) {
      console.log(`\nINVALID:\n  - ${problems.join('\n  - ')}`);
      return 1;
    }
    const pass = ratio <= TARGET;
    console.log(`target ≤ ${TARGET} × one node: ${pass ? 'PASS' : 'FAIL'}`);
    return pass ? 0 : 1;
  } finally {
    if (child) await stopChild(child);
    await store.close();
    await Promise.all(fakes.map((f) => f.close()));
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((err) => {
  console.error(`INVALID: ${(err as Error).message}`);
  return 1;
});
