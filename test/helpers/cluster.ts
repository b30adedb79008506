import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { accessSync, constants, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import got from 'got';
import test from 'ava';
import { openStore } from '../../src/store/open.ts';
import { cleanPipEnv, createTemplateVenv, installedPackages, type TemplateVenv } from './pip-env.ts';
import { buildWheels, type WheelSpec } from './wheels.ts';
import { ensureCompiled, PROCENV_BIN } from './compiled.ts';

const run = promisify(execFile);
/**
 * Where clusters put their folders: a tmpfs when there is one. Each node gets a full copy of the template venv
 * (~1,700 files); on this machine's disk a copy takes ~3 s, on /dev/shm ~0.1 s.
 */
const TEMP_BASE = (() => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
})();
const REPO = new URL('../../', import.meta.url).pathname;

/** The main node's code (the default of both codes): a node is the main node when its code equals it. */
export const MAIN_CODE = 'wasdi';
/** The processors' owner: a plain user (not an admin) with a session on the main node only. */
export const OWNER = 'alice';
export const CLUSTER_HEADER = 'x-procenv-cluster-key';

export interface ClusterProcessor {
  name: string;
  processorId: string;
}

/** The pip processor every node gets unless told otherwise; its id is fresh per cluster. */
export const PIP = 'clu_pip';

/** What one test file builds once: wheels, a venv to copy, and a data folder holding the owner and a session. */
export interface ClusterFixture {
  wheels: string;
  template: TemplateVenv;
  /** A data folder made with the CLI (`user add`, `session create`): each main node starts from a copy. */
  seedData: string;
  token: string;
  remove(): Promise<void>;
}

/** Runs `procenv <args>` (the real CLI, its own process) against a data folder; answers its stdout. */
export async function procenvCli(dataDir: string, args: string[]): Promise<string> {
  await ensureCompiled();
  const env = nodeEnv({ PROCENV_DATA_DIR: dataDir, PROCENV_LOG_LEVEL: 'silent' });
  const { stdout } = await run(process.execPath, [PROCENV_BIN, ...args], { cwd: REPO, env, timeout: 60_000 });
  return stdout.trim();
}

export async function prepareCluster(wheels: readonly WheelSpec[]): Promise<ClusterFixture> {
  const root = mkdtempSync(join(TEMP_BASE, 'procenv-cluster-fixture-'));
  liveRoots.add(root);
  const dir = join(root, 'wheels');
  const seedData = join(root, 'seed-data');
  mkdirSync(dir);
  const [template, token] = await Promise.all([
    createTemplateVenv(),
    (async () => {
      await buildWheels(dir, wheels);
      await procenvCli(seedData, ['user', 'add', OWNER]);
      return procenvCli(seedData, ['session', 'create', OWNER]);
    })(),
  ]);
  return {
    wheels: dir, template, seedData, token,
    async remove() {
      await template.remove();
      rmSync(root, { recursive: true, force: true });
      liveRoots.delete(root);
    },
  };
}

/** The environment of a child procenv: clean pip variables, no PROCENV_* or MongoDB setting inherited. */
function nodeEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env = cleanPipEnv();
  for (const key of Object.keys(env)) if (key.startsWith('PROCENV_') || key === 'MONGODB_URL') delete env[key];
  return { ...env, PROCENV_CLI_ENTRY: '1', PROCENV_STORE: 'embedded', ...vars };
}

/** Bounded polling: answers the first truthy value of `probe`, or throws naming `what` and the last value seen. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, intervalMs = 150): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await probe();
      if (last) return last as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms; last seen: ${JSON.stringify(last instanceof Error ? last.message : last)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

const live = new Set<ChildProcess>();
const liveRoots = new Set<string>();
// A test worker that ends abruptly (a timeout, a crash) must leave neither servers nor tmpfs folders behind.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const root of liveRoots) rmSync(root, { recursive: true, force: true });
});

/** One real procenv process (`procenv serve`) with its own data folder, processors folder and venvs. */
export class ClusterNode {
  readonly root: string;
  readonly dataDir: string;
  readonly processorsDir: string;
  /** Every line the process wrote to stdout and stderr, across restarts. */
  readonly logs: string[] = [];
  url = '';
  port = 0;
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(readonly cluster: Cluster, readonly code: string, private readonly extraEnv: Record<string, string> = {}) {
    this.root = join(cluster.root, code);
    this.dataDir = join(this.root, 'data');
    this.processorsDir = join(this.root, 'processors');
    mkdirSync(this.processorsDir, { recursive: true });
  }

  /** The cluster key this node was started with (a node may be given another one). */
  get key(): string {
    return this.extraEnv.PROCENV_CLUSTER_KEY ?? this.cluster.key;
  }

  get isMain(): boolean {
    return this.code === MAIN_CODE;
  }

  /** Puts a processor folder (processor.json and a venv copied from the template) on this node. */
  async addProcessor(p: ClusterProcessor): Promise<void> {
    const folder = join(this.processorsDir, p.name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'processor.json'), JSON.stringify({ processorId: p.processorId, name: p.name, type: 'python_pip_2', userId: OWNER, isPublic: 0 }));
    await this.cluster.fixture.template.copyTo(join(folder, '.venv'));
  }

  venv(name = PIP): string {
    return join(this.processorsDir, name, '.venv');
  }

  installed(name = PIP): Promise<Partial<Record<string, string>>> {
    return installedPackages(this.venv(name));
  }

  /** Starts `procenv serve`: port 0 the first time, then the port it had (the main node stores the URL). */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.code} is already running`);
    await ensureCompiled();
    const c = this.cluster;
    const env = nodeEnv({
      PROCENV_HOST: '127.0.0.1', PROCENV_PORT: String(this.port), PROCENV_DATA_DIR: this.dataDir,
      PROCENV_PROCESSORS_DIR: this.processorsDir, PROCENV_NODE_CODE: this.code, PROCENV_MAIN_NODE_CODE: MAIN_CODE,
      PROCENV_CLUSTER_KEY: this.key, PROCENV_LOG_LEVEL: 'info',
      PROCENV_PIP_NO_INDEX: 'true', PROCENV_PIP_FIND_LINKS: c.fixture.wheels, PROCENV_PIP_WHEEL_CACHE_MEGABYTES: '0',
      PROCENV_CLUSTER_RETRY_BASE_MS: '100', PROCENV_CLUSTER_RETRY_MAX_MS: '1000', PROCENV_CLUSTER_SYNC_INTERVAL_SECONDS: '1',
      PROCENV_QUEUE_LEASE_SECONDS: '2', PROCENV_CLUSTER_REQUEST_TIMEOUT_MS: '3000',
      ...(this.isMain ? {} : { PROCENV_MAIN_URL: c.main.url }),
      ...c.extraEnv, ...this.extraEnv,
    });
    const child = spawn(process.execPath, [PROCENV_BIN, 'serve'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => {
      live.delete(child);
      if (this.child === child) this.child = undefined;
      resolve();
    }));
    createInterface({ input: child.stderr! }).on('line', (line) => this.logs.push(line));
    const listening = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        this.logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'listening' && entry.url) resolve(entry.url);
        } catch {
          // not a log line
        }
      });
      void this.exited!.then(() => reject(new Error(`${this.code} exited before listening:\n${this.logs.slice(-20).join('\n')}`)));
      setTimeout(() => reject(new Error(`${this.code} did not listen within 60 s`)), 60_000).unref();
    });
    try {
      this.url = await listening;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    this.port = Number(new URL(this.url).port);
  }

  /** SIGTERM, as an operator stops it; SIGKILL after 15 s. */
  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  /** SIGKILL: a crash, nothing gets to finish. */
  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  private async get(path: string, searchParams: Record<string, string | string[]> = {}, headers: Record<string, string> = {}, method: 'GET' | 'POST' | 'PUT' = 'GET', json?: unknown): Promise<Answer> {
    const url = new URL(path.replace(/^\//, ''), `${this.url}/`);
    for (const [k, v] of Object.entries(searchParams)) for (const one of [v].flat()) url.searchParams.append(k, one);
    const res = await got(url, { method, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 15_000 }, headers, ...(json === undefined ? {} : { json }) });
    let body: unknown = res.body;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      // not JSON: the raw text
    }
    return { status: res.statusCode, body, headers: res.headers };
  }

  /** A node-to-node call: the cluster key (or the one given), no session. */
  internal(path: string, searchParams?: Record<string, string | string[]>, headers: Record<string, string> = {}): Promise<Answer> {
    return this.get(path, searchParams, { [CLUSTER_HEADER]: this.key, ...headers });
  }

  /** A call as the owner with the session token the CLI made on the main node. */
  asOwner(path: string, searchParams?: Record<string, string | string[]>): Promise<Answer> {
    return this.get(path, searchParams, { 'x-session-token': this.cluster.fixture.token });
  }

  /** A PUT of a JSON body as the owner. */
  putAsOwner(path: string, json: unknown): Promise<Answer> {
    return this.get(path, {}, { 'x-session-token': this.cluster.fixture.token }, 'PUT', json);
  }

  /** A POST without a body as the owner. */
  postAsOwner(path: string, searchParams?: Record<string, string | string[]>): Promise<Answer> {
    return this.get(path, searchParams, { 'x-session-token': this.cluster.fixture.token }, 'POST');
  }

  /** This node's own operations of a processor (cluster key), newest first. */
  async operations(name = PIP): Promise<{ processObjId: string; status: string; commands: string[]; userId: string; origin?: unknown; sync?: { epoch: string; from: number; to: number; origins?: string[] } }[]> {
    const res = await this.internal('operations', { processor: name, limit: '500' });
    if (res.status !== 200) throw new Error(`${this.code}: /operations answered ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Waits until this node has no queued or running operation (all processors). */
  quiet(timeoutMs = 60_000): Promise<true> {
    return waitUntil(`${this.code} has no queued or running operation`, async () => {
      const res = await this.internal('operations', { status: 'CREATED,RUNNING', limit: '500' });
      return res.status === 200 && res.body.length === 0;
    }, timeoutMs);
  }

  /** This node's sync position for a processor (compute nodes). */
  async syncState(name = PIP): Promise<{ epoch: string; applied: number; syncOperationId?: string; lastError?: string }> {
    const res = await this.internal(`cluster/processors/${name}/sync`);
    if (res.status !== 200) throw new Error(`${this.code}: sync state answered ${res.status}`);
    return res.body;
  }
}

export interface ClusterOptions {
  /** Compute nodes started with the main node, each with the pip processor. */
  computeNodes?: string[];
  /** PROCENV_* settings for every node. */
  env?: Record<string, string>;
  /** More processors, each on the main node and on the compute nodes named. */
  processors?: { processor: ClusterProcessor; on: string[] }[];
}

/** A main node and compute nodes as real processes on 127.0.0.1, one cluster key, temp folders. */
export class Cluster {
  readonly root = mkdtempSync(join(TEMP_BASE, 'procenv-cluster-'));
  /** Random per cluster, so that finding it in a log can only mean it was logged. */
  readonly key = `ck-${randomBytes(18).toString('hex')}`;
  readonly pip: ClusterProcessor = { name: PIP, processorId: randomUUID() };
  readonly main: ClusterNode;
  readonly nodes = new Map<string, ClusterNode>();
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  constructor(readonly fixture: ClusterFixture, readonly extraEnv: Record<string, string> = {}) {
    liveRoots.add(this.root);
    this.main = new ClusterNode(this, MAIN_CODE);
    cpSync(fixture.seedData, this.main.dataDir, { recursive: true });
  }

  static async start(fixture: ClusterFixture, options: ClusterOptions = {}): Promise<Cluster> {
    const cluster = new Cluster(fixture, options.env);
    try {
      // The main node gets a port picked beforehand so that all nodes start at once (a start costs seconds);
      // compute nodes bind port 0 and are registered with the URL they print.
      cluster.main.port = await freePort();
      cluster.main.url = `http://127.0.0.1:${cluster.main.port}`;
      const codes = options.computeNodes ?? ['node-a', 'node-b'];
      await Promise.all([MAIN_CODE, ...codes].map(async (code) => {
        const node = code === MAIN_CODE ? cluster.main : cluster.node(code);
        await node.addProcessor(cluster.pip);
        for (const { processor, on } of options.processors ?? []) if (code === MAIN_CODE || on.includes(code)) await node.addProcessor(processor);
        await node.start();
      }));
      await cluster.register(codes.map((code) => cluster.nodes.get(code)!));
      return cluster;
    } catch (err) {
      await cluster.close();
      throw err;
    }
  }

  /** A compute node of this cluster (created, not started, on first use). */
  node(code: string, env: Record<string, string> = {}): ClusterNode {
    let node = this.nodes.get(code);
    if (!node) {
      node = new ClusterNode(this, code, env);
      this.nodes.set(code, node);
    }
    return node;
  }

  /** Registers compute nodes on the main node through its store (what `procenv node add` writes). */
  async register(nodes: { code: string; url: string }[]): Promise<void> {
    const store = await openStore({ store: 'embedded', dataDir: this.main.dataDir, mongodbUrl: '', mongodbDatabase: '' });
    try {
      for (const n of nodes) await store.saveNode({ nodeCode: n.code, nodeBaseAddress: n.url, active: true });
    } finally {
      await store.close();
    }
  }

  onClose(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** environmentupdate on the main node as the owner (the web client's call); answers the operation id. */
  async update(updateCommand: string, processor: ClusterProcessor = this.pip): Promise<string> {
    const res = await this.main.asOwner('packageManager/environmentupdate', { processorId: processor.processorId, workspace: '-', updateCommand });
    if (res.status !== 200) throw new Error(`environmentupdate answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.processObjId as string;
  }

  /** GET /operations/:id on the main node, as the owner. */
  async operation(id: string): Promise<{ status: string; nodes?: DeliveryView[]; [k: string]: unknown }> {
    const res = await this.main.asOwner(`operations/${id}`);
    if (res.status !== 200) throw new Error(`operation ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Waits until the main node's operation ended and every listed delivery is in a final state. */
  async settled(id: string, timeoutMs = 60_000): Promise<{ status: string; nodes: DeliveryView[] }> {
    return waitUntil(`operation ${id} and its deliveries settled`, async () => {
      const op = await this.operation(id);
      const finalStates = ['applied', 'failed', 'skipped'];
      if (['DONE', 'ERROR', 'STOPPED'].includes(op.status) && (op.nodes ?? []).every((n) => finalStates.includes(n.state))) return { ...op, nodes: op.nodes ?? [] };
      return undefined;
    }, timeoutMs);
  }

  /** GET /processors/:name/nodes on the main node, as the owner. */
  async processorNodes(name = PIP): Promise<ProcessorNodesAnswer> {
    const res = await this.main.asOwner(`processors/${name}/nodes`);
    if (res.status !== 200) throw new Error(`processors/${name}/nodes: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** The nodes (main included) whose output holds the cluster key, or any other key a node was given. */
  nodesLoggingKey(): string[] {
    const all = [this.main, ...this.nodes.values()];
    const keys = new Set(all.map((n) => n.key));
    return all.filter((n) => n.logs.some((l) => [...keys].some((k) => l.includes(k)))).map((n) => n.code);
  }

  /** Everything the nodes wrote, for a failing test's log. */
  dump(): string {
    return [this.main, ...this.nodes.values()].map((n) => `--- ${n.code}\n${n.logs.slice(-60).join('\n')}`).join('\n');
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.nodes.values(), this.main].map((n) => n.stop()));
    for (const fn of this.cleanups) await Promise.resolve().then(fn).catch(() => undefined);
    rmSync(this.root, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
    liveRoots.delete(this.root);
  }
}

/** GET /processors/:name/nodes as the main node answers it. */
export interface ProcessorNodesAnswer {
  epoch: string;
  lines: number;
  generation?: GenerationPosition;
  drifted: string[];
  nodes: { nodeCode: string; state: string; applied?: number; error?: string; generation?: GenerationPosition; drifted?: boolean }[];
}

export interface GenerationPosition {
  number: number;
  hash: string;
}

export interface DeliveryView {
  nodeCode: string;
  state: string;
  attempts: number;
  lastError?: string;
  remoteOperationId?: string;
}

/** A free loopback port (bound, then released), for a node that must be registered before it starts. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Registers a test file's cluster fixture (built once, removed after the file) and answers a function that starts
 * a cluster for one test and stops it when the test ends.
 */
export function clusterSuite(wheels: readonly WheelSpec[]): (t: import('ava').ExecutionContext, options?: ClusterOptions) => Promise<Cluster> {
  let fixture: ClusterFixture | undefined;
  test.before(async () => {
    fixture = await prepareCluster(wheels);
  });
  test.after.always(async () => {
    await fixture?.remove();
  });
  return async (t, options = {}) => {
    const cluster = await Cluster.start(fixture!, options);
    t.teardown(() => cluster.close());
    return cluster;
  };
}
