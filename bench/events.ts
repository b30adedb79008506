/**
 * bench/events: 200 open event streams (GET /events, Server-Sent Events) on one node. How long from a state change
 * until the last of the 200 clients has parsed its event (p50, p99), next to the time the same process takes to
 * send one event to one client (one stream open), in the same run; and the server's RSS with 200 idle streams open
 * against none. Targets (issue 8): p99 under 50 ms; under 50 KB per idle stream.
 *
 * The service is real procenv (`startService`: SQLite store, event hub, streams, HTTP) in a child process, so that
 * its RSS is its own and the clients do not share its event loop; its worker is stopped (nothing else journals) and
 * its package managers are the no-op ones of bench/queue. The child is this file run with `--serve`: it answers
 * messages on its IPC channel (make a change, report memory after a full GC, report its clock). Beside it, as a
 * floor, `--serve-bare`: a node:http server that writes the same event text (serialised once) to every open
 * response, with no store, hub or checks.
 *
 * A change is `lifecycle.packagesChanged(processor, 'disk')` in the child (one event journaled, the hub poked, as
 * when the watcher sees packagesInfo.json rewritten), or with `--change operation` an operation submitted in-process
 * with no commands (an `operation.queued` event carrying the operation, about 1 KB; the worker being stopped, it
 * stays queued). t0 is taken in the child just before the call, t_last in this process when the last client has
 * parsed the event; both `performance.timeOrigin + performance.now()` (sub-millisecond), the two processes' offset
 * measured over IPC (the reply with the smallest round trip) and taken off. Beside it, the child's own share: t0 →
 * its next turn (by then the hub has handed the event to every stream and node has written it to every socket), and
 * both processes' CPU per change. One change at a time: the next is made 20 ms after every client has the previous
 * one. Each round measures one procenv stream, 200 procenv streams and 200 bare streams, in a rotating order and
 * each with its own warm-up, so that drift on the machine hits all three.
 *
 * Memory: the child reports `process.memoryUsage()` after two full GCs (`--expose-gc`): with no stream (after a
 * warm-up stream has come and gone, so that compiled code is not counted as the streams'), then with 200 idle
 * streams (opened, then left 2 s), then with none again at the end. Per stream, the larger of the RSS and the heap
 * (used + external) difference is held against the target: RSS grows in pages the process may already hold.
 *
 *   node --import tsx bench/events.ts [--streams 200] [--changes 50] [--rounds 4] [--warmup 10] [--gap 20]
 *                                     [--change packages|operation] [--profile /tmp/prof]
 *
 * Exit code: 0 PASS, 1 FAIL (a target missed) or an invalid run (an event missed, repeated, or out of order on any
 * client, an unexpected event, a stream refused, or a stream the server did not close when its client left).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type ClientRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSession, SAMPLES_DIR } from '../src/cli.ts';
import { loadConfig } from '../src/config/load.ts';
import type { Caller } from '../src/domain/user.ts';
import { startService } from '../src/main.ts';
import { SqliteStore } from '../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE } from '../src/store/open.ts';
import { integerOption, median, quantile, stopChild } from './servers/child.ts';
import { noopManagers } from './servers/noop-manager.ts';

const P99_TARGET_MS = 50;
const KB_PER_STREAM_TARGET = 50;
/** The sample processor the changes are made on (public, owned by `demo`). */
const PROCESSOR = 'sample_pip';
const USER = 'demo';

type ChangeKind = 'packages' | 'operation';
const EVENT_TYPE: Record<ChangeKind, string> = { packages: 'packages.changed', operation: 'operation.queued' };

/** Wall-clock ms with the sub-millisecond resolution of the monotonic clock (comparable across processes up to an offset). */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ── The children: procenv, and the bare floor, driven over IPC. ──

type Message =
  | { kind: 'clock' }
  | { kind: 'change'; change: ChangeKind }
  | { kind: 'stats'; gc: boolean }
  | { kind: 'caller'; token: string }
  /** The bare server: the event to send (a procenv event as a client got it; id and `at` are replaced). */
  | { kind: 'template'; event: Record<string, unknown> };
type Request = Message & { seq: number };

interface Stats {
  /** Streams the server holds, and sinks on procenv's hub (both must follow the clients). */
  open: number;
  sinks: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** CPU µs (user + system) since the child started. */
  cpuUs: number;
}

async function memoryAfterGc(gc: boolean): Promise<Omit<Stats, 'open' | 'sinks'>> {
  if (gc) {
    for (let i = 0; i < 2; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      await sleep(50);
    }
  }
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  return { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, cpuUs: cpu.user + cpu.system };
}

/** Answers the parent's messages; `stop` on SIGTERM. */
function answer(url: string, handle: (m: Request) => Promise<object>, stop: () => Promise<void>): void {
  process.on('message', (m: Request) => {
    handle(m).then(
      // `flushed`: by then the turn that made the change is over, and with it the hub's dispatch and every stream's
      // write (node's http flushes corked writes in a nextTick, before any immediate): the server's own share.
      (a) => setImmediate(() => process.send!({ seq: m.seq, ...a, flushed: now() })),
      (err) => process.send!({ seq: m.seq, error: String((err as Error).stack ?? err) }),
    );
  });
  process.once('SIGTERM', () => {
    stop().then(() => process.exit(0), (err) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    });
  });
  process.send!({ seq: 0, url });
}

async function serve(root: string): Promise<void> {
  const config = loadConfig({
    env: {},
    overrides: {
      host: '127.0.0.1', port: 0, dataDir: join(root, 'data'), processorsDir: join(root, 'processors'), logLevel: 'warn',
      'events.maxStreams': 1000, 'events.maxStreamsPerUser': 1000,
    },
  });
  const service = await startService(config, { managers: noopManagers() });
  // Nothing is queued before startService resolves: with the worker stopped, nothing but the bench journals.
  await service.worker.stop();
  await service.catalog.watched();
  const baseSinks = service.hub.sinks;
  let caller: Caller | undefined;
  answer(service.url, async (m) => {
    switch (m.kind) {
      case 'clock': return { at: now() };
      case 'caller':
        caller = await service.sessions.authenticate(m.token);
        return {};
      case 'change': {
        const t0 = now();
        if (m.change === 'packages') await service.lifecycle.packagesChanged(PROCESSOR, 'disk');
        else await service.operations.submit(caller!, PROCESSOR, [], '-');
        return { t0, t1: now() };
      }
      // The hub's own sinks (metrics) are always there: only the streams' sinks are counted.
      case 'stats': return { open: service.events.open, sinks: service.hub.sinks - baseSinks, ...await memoryAfterGc(m.gc) };
      case 'template': throw new Error('procenv makes its own events');
    }
  }, () => service.stop());
}

/** The floor: SSE over node:http with nothing in between, the event serialised once for all streams. */
async function serveBare(): Promise<void> {
  const streams = new Set<ServerResponse>();
  let template: Record<string, unknown> = {};
  let id = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/events') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
    res.write('retry: 3000\n: bare\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  answer(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, async (m) => {
    switch (m.kind) {
      case 'clock': return { at: now() };
      case 'template':
        template = m.event;
        return {};
      case 'change': {
        const t0 = now();
        id += 1;
        const text = `id: ${id}\ndata: ${JSON.stringify({ ...template, id, at: Date.now() })}\n\n`;
        for (const res of streams) res.write(text);
        return { t0, t1: now() };
      }
      case 'stats': return { open: streams.size, sinks: streams.size, ...await memoryAfterGc(m.gc) };
      case 'caller': return {};
    }
  }, async () => {
    for (const res of streams) res.end();
    await new Promise((resolve) => server.close(resolve));
  });
}

// ── The bench: the clients, the figures. ──

interface Server {
  child: ChildProcess;
  url: string;
  ask<T>(m: Message): Promise<T>;
}

/** Every child started, stopped in main's `finally` whatever happened after its spawn. */
const children: ChildProcess[] = [];

async function startServer(args: string[], profileDir: string | undefined): Promise<Server> {
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  // The child's stdout (procenv's pino lines) goes to this process's stderr, away from the figures.
  const child = spawn(process.execPath, ['--expose-gc', ...profile, '--import', 'tsx', new URL(import.meta.url).pathname, ...args], {
    stdio: ['ignore', 2, 'inherit', 'ipc'],
  });
  children.push(child);
  const waiting = new Map<number, { resolve: (m: any) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => {
      const err = new Error(`the ${args[0]} child exited with ${code}`);
      reject(err);
      for (const w of waiting.values()) w.reject(err);
    });
    child.on('message', (m: { seq: number; url?: string; error?: string }) => {
      if (m.seq === 0 && m.url) return resolve(m.url);
      const w = waiting.get(m.seq);
      waiting.delete(m.seq);
      if (m.error) w?.reject(new Error(m.error));
      else w?.resolve(m);
    });
  });
  return {
    child, url,
    ask<T>(m: Message): Promise<T> {
      const s = ++seq;
      return new Promise<T>((resolve, reject) => {
        waiting.set(s, { resolve, reject });
        child.send({ ...m, seq: s });
      });
    },
  };
}

/** The child's clock minus this one's (ms), from the IPC round trip with the smallest delay, and that delay. */
async function clockOffset(server: Server): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 30; i++) {
    const sent = now();
    const { at } = await server.ask<{ at: number }>({ kind: 'clock' });
    const back = now();
    // setImmediate in the child delays its answer, not its reading of the clock: the middle is still the estimate.
    if (back - sent < best.rtt) best = { offset: at - (sent + back) / 2, rtt: back - sent };
  }
  return best;
}

interface Client {
  req: ClientRequest;
  /** Arrival time (this clock) of each measured event, by id. */
  arrivals: Map<number, number>;
  ids: number[];
  /** Each measured event's `at` (ms since the epoch, stamped by the child when it stored the change), by id. */
  at: Map<number, number>;
  /** The last measured event as parsed (the bare server's template). */
  last?: Record<string, unknown>;
  other: string[];
  closed: boolean;
}

/**
 * One EventSource-like client over node:http: parses the stream (messages end at a blank line, `data:` lines),
 * stamps each event of the measured type when it has parsed it, and calls `onEvent`.
 */
function openClient(base: string, token: string, agent: Agent, type: string, onEvent: (id: number) => void): Promise<Client> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/events', base), { agent, headers: { accept: 'text/event-stream', 'x-session-token': token } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET /events answered ${res.statusCode}`));
        return;
      }
      const client: Client = { req, arrivals: new Map(), ids: [], at: new Map(), other: [], closed: false };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
          if (data.length === 0) continue;
          const e = JSON.parse(data.join('\n')) as { id: number; type: string; at: number; processor: string };
          if (e.type === type && e.processor === PROCESSOR) {
            client.arrivals.set(e.id, now());
            client.ids.push(e.id);
            client.at.set(e.id, e.at);
            client.last = e;
            onEvent(e.id);
          } else {
            client.other.push(e.type);
          }
        }
      });
      res.on('close', () => {
        client.closed = true;
      });
      resolve(client);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Change {
  /** t0 → the first and the last client parsed the event (ms) */
  first: number;
  last: number;
  /** the event's `at` (ms, 1 ms resolution, stamped in the store write) → the last client */
  fromAt: number;
  /** t0 → the call in the child returned (the store write, and for an operation the checks before it) */
  call: number;
  /** t0 → the child's next turn: the event written to every stream's socket */
  flushed: number;
}

/** A server with its open clients, one change at a time. */
class Target {
  readonly clients: Client[] = [];
  private pending: { id?: number; count: number; done: () => void } | undefined;
  private lastId = 0;

  constructor(
    readonly server: Server,
    private readonly clock: { offset: number },
    private readonly open: (onEvent: (id: number) => void) => Promise<Client>,
    private readonly kind: ChangeKind,
    private readonly problem: (text: string) => void,
  ) {}

  private readonly onEvent = (id: number) => {
    const p = this.pending;
    if (!p || id <= this.lastId) return this.problem(`event ${id} arrived while no change was waited for (the last was ${this.lastId})`);
    p.id ??= id;
    if (id !== p.id) return this.problem(`a client got event ${id} while the others got ${p.id}`);
    if (++p.count === this.clients.length) p.done();
  };

  stats(gc = false): Promise<Stats> {
    return this.server.ask<Stats>({ kind: 'stats', gc });
  }

  /** Opens clients until `count` are open; answers the time it took (ms). */
  async openTo(count: number): Promise<number> {
    const t = performance.now();
    this.clients.push(...await Promise.all(Array.from({ length: count - this.clients.length }, () => this.open(this.onEvent))));
    return performance.now() - t;
  }

  /** Closes clients until `keep` are left, and waits until the server has let their streams go. */
  async closeTo(keep: number): Promise<void> {
    for (const c of this.clients.splice(keep)) c.req.destroy();
    for (const deadline = Date.now() + 5_000; ;) {
      const st = await this.stats();
      if (st.open === keep && st.sinks === keep) return;
      if (Date.now() > deadline) return this.problem(`the server still holds ${st.open} streams (${st.sinks} hub sinks) after its clients left, expected ${keep}`);
      await sleep(20);
    }
  }

  async change(): Promise<Change | undefined> {
    const all = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5_000);
      this.pending = { count: 0, done: () => { clearTimeout(timer); resolve(true); } };
    });
    const [{ t0, t1, flushed }, arrived] = await Promise.all([this.server.ask<{ t0: number; t1: number; flushed: number }>({ kind: 'change', change: this.kind }), all]);
    const { id, count } = this.pending!;
    this.pending = undefined;
    if (!arrived || id === undefined) return void this.problem(`a change reached ${count} of ${this.clients.length} clients within 5 s`);
    this.lastId = id;
    const base = t0 - this.clock.offset;
    const times = this.clients.map((c) => c.arrivals.get(id)!);
    const at = this.clients[0]!.at.get(id)!;
    if (this.clients.some((c) => c.at.get(id) !== at)) this.problem(`clients disagree on the \`at\` of event ${id}`);
    // `at` is Date.now(), a clock of its own that may stand a millisecond or so from performance's: 2 ms of slack.
    if (at < t0 - 2 || at > t1 + 2) this.problem(`event ${id} has at ${at}, outside the call in the child (${t0.toFixed(1)} – ${t1.toFixed(1)})`);
    return { first: Math.min(...times) - base, last: Math.max(...times) - base, fromAt: Math.max(...times) + this.clock.offset - at, call: t1 - t0, flushed: flushed - t0 };
  }

  /** Every client got every event of its time exactly once, in id order, and nothing else. */
  check(): void {
    for (const c of this.clients) {
      if (c.closed) this.problem('a stream was closed by the server');
      if (c.other.length) this.problem(`a client got other events: ${[...new Set(c.other)].join(', ')}`);
      if (c.ids.some((id, i) => i > 0 && id <= c.ids[i - 1]!)) this.problem('a client got events out of order or twice');
    }
  }
}

async function main(): Promise<number> {
  const { values: opts } = parseArgs({
    options: {
      streams: { type: 'string', default: '200' },
      changes: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '4' },
      warmup: { type: 'string', default: '10' },
      gap: { type: 'string', default: '20' },
      change: { type: 'string', default: 'packages' },
      profile: { type: 'string' },
    },
  });
  const STREAMS = integerOption(opts, 'streams', 2);
  const CHANGES = integerOption(opts, 'changes');
  const ROUNDS = integerOption(opts, 'rounds');
  const WARMUP = integerOption(opts, 'warmup', 0);
  const GAP = integerOption(opts, 'gap', 0);
  if (opts.change !== 'packages' && opts.change !== 'operation') throw new Error('--change must be packages or operation');
  const KIND: ChangeKind = opts.change;
  const TYPE = EVENT_TYPE[KIND];

  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < 20) problems.push(text);
  };

  console.log(`node ${process.version}; ${STREAMS} streams against 1; ${ROUNDS} rounds × ${CHANGES} changes per side (+ ${WARMUP} warm-up each), ${GAP} ms apart; change: ${KIND} (${TYPE} events)`);
  const root = mkdtempSync(join(tmpdir(), 'procenv-bench-events-'));
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const targets: Target[] = [];
  try {
    cpSync(SAMPLES_DIR, join(root, 'processors'), { recursive: true });
    const store = new SqliteStore(join(root, 'data', EMBEDDED_STORE_FILE));
    await store.saveUser({ userId: USER, role: 'USER' });
    const token = await createSession(store, USER);
    await store.close();

    const start = async (args: string[], profile?: string) => {
      const server = await startServer(args, profile);
      const clock = await clockOffset(server);
      const target = new Target(server, clock, (onEvent) => openClient(server.url, token, agent, TYPE, onEvent), KIND, problem);
      targets.push(target);
      return { target, clock };
    };
    const { target: procenv, clock } = await start(['--serve', root], opts.profile);
    await procenv.server.ask({ kind: 'caller', token });
    const warmUp = async (t: Target) => {
      for (let i = 0; i < WARMUP; i++) {
        await sleep(GAP);
        await t.change();
      }
    };

    // ── Memory: none (after a warm-up stream came and went), STREAMS idle, none again at the end. ──
    const cold = await procenv.stats(true);
    await procenv.openTo(1);
    await warmUp(procenv);
    const template = procenv.clients[0]!.last;
    await procenv.closeTo(0);
    const none = await procenv.stats(true);
    const openMs = await procenv.openTo(STREAMS);
    const opened = await procenv.stats();
    await sleep(2_000);
    const idle = await procenv.stats(true);
    if (idle.open !== STREAMS) problem(`the server holds ${idle.open} streams, expected ${STREAMS}`);
    console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (the servers and the clients share 2 cores with whatever else runs)`);
    console.log(`${STREAMS} streams opened at once in ${openMs.toFixed(0)} ms (server CPU ${((opened.cpuUs - none.cpuUs) / 1000).toFixed(0)} ms); clock offset child − bench ${clock.offset.toFixed(3)} ms (IPC round trip ${clock.rtt.toFixed(3)} ms)`);

    // The floor, sending the same event text as procenv's (ids and `at` its own).
    const { target: bare } = await start(['--serve-bare']);
    if (!template) throw new Error('no event reached the warm-up client');
    await bare.server.ask({ kind: 'template', event: template });
    const bareNone = await bare.stats(true);
    await bare.openTo(STREAMS);
    await sleep(500);
    const bareIdle = await bare.stats(true);

    // ── Latency: each round one procenv stream, STREAMS procenv streams, STREAMS bare streams, in a rotating order. ──
    const sides = ['one', 'many', 'bare'] as const;
    type Side = (typeof sides)[number];
    const label: Record<Side, string> = { one: '1 stream', many: `${STREAMS} streams`, bare: `${STREAMS} bare` };
    const got: Record<Side, { changes: Change[]; cpu: number[]; clientCpu: number[] }> = {
      one: { changes: [], cpu: [], clientCpu: [] }, many: { changes: [], cpu: [], clientCpu: [] }, bare: { changes: [], cpu: [], clientCpu: [] },
    };
    console.log();
    for (let r = 0; r < ROUNDS; r++) {
      console.log(`round ${r + 1}`);
      for (const side of sides.map((_, i, a) => a[(i + r) % a.length]!)) {
        const t = side === 'bare' ? bare : procenv;
        if (side === 'one') await procenv.closeTo(1);
        if (side === 'many') await procenv.openTo(STREAMS);
        await warmUp(t);
        const before = await t.stats();
        const clientBefore = process.cpuUsage();
        const changes: Change[] = [];
        for (let i = 0; i < CHANGES; i++) {
          await sleep(GAP);
          const c = await t.change();
          if (c) changes.push(c);
        }
        const clientCpu = process.cpuUsage(clientBefore);
        const after = await t.stats();
        const cpu = (after.cpuUs - before.cpuUs) / changes.length;
        const cpuClients = (clientCpu.user + clientCpu.system) / changes.length;
        got[side].changes.push(...changes);
        got[side].cpu.push(cpu);
        got[side].clientCpu.push(cpuClients);
        const ms = changes.map((c) => c.last);
        console.log(`  ${label[side].padEnd(11)} all have it: p50 ${median(ms).toFixed(2)} ms, p99 ${quantile(ms, 0.99).toFixed(2)} ms, max ${Math.max(...ms).toFixed(2)} ms; CPU per change: server ${cpu.toFixed(0)} µs, clients ${cpuClients.toFixed(0)} µs`);
      }
    }
    const clockEnd = await clockOffset(procenv.server);
    for (const t of targets) t.check();
    await procenv.closeTo(0);
    const end = await procenv.stats(true);

    // ── Figures. ──
    const col = (xs: number[]) => `${median(xs).toFixed(2).padStart(8)}${quantile(xs, 0.99).toFixed(2).padStart(9)}${Math.max(...xs).toFixed(2).padStart(9)}`;
    console.log('\nms from the change (t0 in the child)    p50      p99      max');
    for (const side of sides) {
      const xs = got[side].changes;
      const row = (name: string, pick: (c: Change) => number) => console.log(`${(name === 'last client has it' ? label[side] : '').padEnd(13)}${name.padEnd(26)}${col(xs.map(pick))}`);
      row('last client has it', (c) => c.last);
      if (side !== 'one') row('first client has it', (c) => c.first);
      if (side !== 'bare') row('from `at` (1 ms steps)', (c) => c.fromAt);
      row('server: call returned', (c) => c.call);
      row('server: all written', (c) => c.flushed);
    }
    const last = (side: Side) => got[side].changes.map((c) => c.last);
    const p50 = median(last('many'));
    const p99 = quantile(last('many'), 0.99);
    console.log(`\nratio ${STREAMS} streams / 1 stream: p50 ${(p50 / median(last('one'))).toFixed(2)}, p99 ${(p99 / quantile(last('one'), 0.99)).toFixed(2)}`);
    console.log(`ratio ${STREAMS} procenv streams / ${STREAMS} bare node:http streams: p50 ${(p50 / median(last('bare'))).toFixed(2)}, p99 ${(p99 / quantile(last('bare'), 0.99)).toFixed(2)}`);
    const perExtra = (xs: Record<Side, number[]>, side: Side) => (median(xs[side]) - median(xs.one)) / (STREAMS - 1);
    const cpu = { one: got.one.cpu, many: got.many.cpu, bare: got.bare.cpu };
    const clientCpu = { one: got.one.clientCpu, many: got.many.clientCpu, bare: got.bare.clientCpu };
    console.log(`CPU per change (medians of rounds), µs    1 stream  ${label.many.padStart(11)}  ${label.bare.padStart(10)}   per extra stream procenv / bare`);
    console.log(`  server${median(cpu.one).toFixed(0).padStart(29)}${median(cpu.many).toFixed(0).padStart(13)}${median(cpu.bare).toFixed(0).padStart(12)}${`${perExtra(cpu, 'many').toFixed(1)} / ${(median(cpu.bare) / STREAMS).toFixed(1)}`.padStart(24)}`);
    console.log(`  clients (this process)${median(clientCpu.one).toFixed(0).padStart(13)}${median(clientCpu.many).toFixed(0).padStart(13)}${median(clientCpu.bare).toFixed(0).padStart(12)}${`${perExtra(clientCpu, 'many').toFixed(1)} / ${perExtra(clientCpu, 'bare').toFixed(1)}`.padStart(24)}`);
    console.log('  (the bare server\'s figure is its whole CPU per change over its streams: it has no one-stream side)');
    console.log(`clock offset child − bench: ${clock.offset.toFixed(3)} ms at the start, ${clockEnd.offset.toFixed(3)} ms at the end (round trips ${clock.rtt.toFixed(3)} / ${clockEnd.rtt.toFixed(3)} ms)`);

    const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
    // RSS moves in pages the process may already hold (freed garbage of the warm-up), so it can undercount; the heap
    // after a full GC does not. The target is judged on the larger of the two.
    const kb = (a: Stats, b: Stats) => ({ rss: (b.rss - a.rss) / STREAMS / 1024, heap: (b.heapUsed + b.external - a.heapUsed - a.external) / STREAMS / 1024 });
    const mine = kb(none, idle);
    const floor = kb(bareNone, bareIdle);
    const perStream = Math.max(mine.rss, mine.heap);
    console.log('\nprocenv memory after full GCs     RSS     heap used  heap total   external');
    for (const [name, st] of [['at start, no stream ever', cold], ['no stream (after one)', none], [`${STREAMS} idle streams`, idle], ['no stream, at the end', end]] as const) {
      console.log(`${name.padEnd(30)}${mb(st.rss).padStart(10)}${mb(st.heapUsed).padStart(12)}${mb(st.heapTotal).padStart(12)}${mb(st.external).padStart(11)}`);
    }
    console.log(`per idle stream: RSS ${mine.rss.toFixed(1)} KB, heap used + external ${mine.heap.toFixed(1)} KB (bare node:http: RSS ${floor.rss.toFixed(1)} KB, heap ${floor.heap.toFixed(1)} KB)`);
    console.log(`load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

    for (const side of sides) if (got[side].changes.length !== ROUNDS * CHANGES) problem(`only ${got[side].changes.length} of ${ROUNDS * CHANGES} changes measured with ${label[side]}`);
    if (end.open !== 0 || end.sinks !== 0) problem(`after every client left procenv holds ${end.open} streams, ${end.sinks} hub sinks`);
    if (problems.length) {
      console.log(`\nINVALID:\n  - ${problems.join('\n  - ')}`);
      return 1;
    }
    const latencyOk = p99 < P99_TARGET_MS;
    const memoryOk = perStream < KB_PER_STREAM_TARGET;
    console.log(`\ntarget p99 < ${P99_TARGET_MS} ms with ${STREAMS} streams: ${p99.toFixed(2)} ms ${latencyOk ? 'PASS' : 'FAIL'}`);
    console.log(`target < ${KB_PER_STREAM_TARGET} KB per idle stream (the larger of RSS and heap): ${perStream.toFixed(1)} KB ${memoryOk ? 'PASS' : 'FAIL'}`);
    return latencyOk && memoryOk ? 0 : 1;
  } finally {
    for (const t of targets) for (const c of t.clients) c.req.destroy();
    agent.destroy();
    for (const child of children) await stopChild(child);
    rmSync(root, { recursive: true, force: true });
  }
}

// Last, so that every declaration above (classes are not hoisted) is in place.
if (process.argv[2] === '--serve') await serve(process.argv[3]!);
else if (process.argv[2] === '--serve-bare') await serveBare();
else {
  process.exitCode = await main().catch((err) => {
    console.error(`INVALID: ${(err as Error).stack ?? err}`);
    return 1;
  });
}
