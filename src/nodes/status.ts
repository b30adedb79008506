import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { withoutCredentials, type FailingLine, type SkippedLine, type SyncState } from '../domain/cluster.ts';
import type { Caller } from '../domain/user.ts';
import { WrongNodeError } from '../domain/errors.ts';
import type { EnvironmentService } from '../services/environments.ts';
import type { GenerationService } from '../services/generations.ts';
import type { Node, Store } from '../store/types.ts';
import type { FanoutService } from './fanout.ts';
import { describeFailure, type PeerClient } from './peer-client.ts';
import { TtlCache } from './ttl-cache.ts';

export interface NodeView {
  nodeCode: string;
  /** Without the credentials it may carry for a proxy. */
  nodeBaseAddress: string;
  active: boolean;
  reachable: boolean;
  /** ms; when reachability was last checked (answers are reused for `cluster.statusCacheSeconds`) */
  checkedAt: number;
  /** ms; when the node last answered a node-to-node call from this process */
  lastContact?: number;
  pendingDeliveries: number;
  failedDeliveries: number;
  error?: string;
}

export type NodeStep = 'in-step' | 'behind' | 'failing' | 'absent' | 'unreachable';

/** Where a node's environment stands: its newest generation's number (on that node) and hash (comparable across nodes). */
export interface GenerationPosition {
  number: number;
  hash: string;
}

export interface ProcessorNodeView {
  nodeCode: string;
  state: NodeStep;
  applied?: number;
  epoch?: string;
  syncing?: boolean;
  lastSyncAt?: number;
  error?: string;
  /** The line the node's catch-up could not apply, the manager's message, and when it is tried again. */
  failing?: FailingLine;
  /** Lines the node passed over because they are not valid update commands. */
  skipped?: SkippedLine[];
  /** The node's newest generation of the processor, as it reports it. */
  generation?: GenerationPosition;
  /** Whether its package set differs from the main node's (known when both have a generation). */
  drifted?: boolean;
}

export interface ProcessorNodesView {
  processor: string;
  epoch: string;
  lines: number;
  /** The main node's newest generation of the processor. */
  generation?: GenerationPosition;
  /** The compute nodes whose package set differs from the main node's, whatever their place in the history. */
  drifted: string[];
  nodes: ProcessorNodeView[];
}

type Probe = { reachable: true; checkedAt: number } | { reachable: false; checkedAt: number; error: string };
type Position = { kind: 'state'; state: Partial<SyncState>; generation?: GenerationPosition } | { kind: 'absent' } | { kind: 'unreachable'; error: string };

/**
 * Main node: how the compute nodes are, from the deliveries and from the nodes themselves. What a node is asked
 * (ping, sync position) is reused for a few seconds, one request in flight per node: a page polling these views
 * does not turn into a request per node and per call, with the cluster key, at every node.
 */
export class ClusterStatus {
  private readonly probes: TtlCache<Probe>;
  private readonly positions: TtlCache<Position>;

  constructor(private readonly deps: {
    store: Store; peer: PeerClient; fanout: FanoutService; catalog: ProcessorCatalog; environments: EnvironmentService;
    generations: Pick<GenerationService, 'latest'>; cacheMs: number;
  }) {
    this.probes = new TtlCache(deps.cacheMs);
    this.positions = new TtlCache(deps.cacheMs);
  }

  private async computeNodes(): Promise<Node[]> {
    if (!this.deps.environments.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'the compute nodes are listed by the main node only');
    return (await this.deps.store.listNodes()).filter((n) => n.nodeCode !== this.deps.environments.nodeCode);
  }

  private probe(n: Node): Promise<Probe> {
    return this.probes.get(`${n.nodeCode}\u0000${n.nodeBaseAddress}`, async () => {
      try {
        const res = await this.deps.peer.getJson(n.nodeBaseAddress, 'cluster/ping');
        if (res.statusCode === 200) {
          this.deps.fanout.noteContact(n.nodeCode);
          return { reachable: true, checkedAt: Date.now() };
        }
        return { reachable: false, checkedAt: Date.now(), error: `ping answered ${res.statusCode}` };
      } catch (err) {
        return { reachable: false, checkedAt: Date.now(), error: describeFailure(err) };
      }
    });
  }

  /** Admins only (the route checks): addresses are the cluster's layout. */
  async nodes(): Promise<NodeView[]> {
    const nodes = await this.computeNodes();
    return Promise.all(nodes.map(async (n) => {
      const [pending, failed, probe] = await Promise.all([
        this.deps.store.listDeliveries({ nodeCode: n.nodeCode, states: ['pending'] }),
        this.deps.store.listDeliveries({ nodeCode: n.nodeCode, states: ['failed'] }),
        this.probe(n),
      ]);
      const lastContact = this.deps.fanout.lastContactOf(n.nodeCode);
      return {
        nodeCode: n.nodeCode, nodeBaseAddress: withoutCredentials(n.nodeBaseAddress), active: n.active, reachable: probe.reachable,
        checkedAt: probe.checkedAt, ...(lastContact ? { lastContact } : {}), pendingDeliveries: pending.length, failedDeliveries: failed.length,
        ...(probe.reachable ? {} : { error: withoutCredentials(probe.error) }),
      };
    }));
  }

  private position(n: Node, name: string): Promise<Position> {
    return this.positions.get(`${n.nodeCode}\u0000${n.nodeBaseAddress}\u0000${name}`, async () => {
      try {
        const res = await this.deps.peer.getJson(n.nodeBaseAddress, `cluster/processors/${encodeURIComponent(name)}/sync`);
        if (res.statusCode === 404) return { kind: 'absent' };
        if (res.statusCode !== 200) return { kind: 'unreachable', error: `answered ${res.statusCode}` };
        this.deps.fanout.noteContact(n.nodeCode);
        const answer = answerOf(res.body);
        const generation = generationOf(answer.generation);
        return { kind: 'state', state: syncStateOf(answer), ...(generation ? { generation } : {}) };
      } catch (err) {
        return { kind: 'unreachable', error: describeFailure(err) };
      }
    });
  }

  /**
   * Each compute node's position in a processor's history against the main node's, and whether its environment holds
   * the main node's package set (read permission). A node can be in step by history and still differ by content: a
   * package changed there by hand, or a line that resolved to other versions there.
   */
  async processorNodes(caller: Caller, name: string): Promise<ProcessorNodesView> {
    await this.deps.environments.processorForRead(caller, name);
    const nodes = (await this.computeNodes()).filter((n) => n.active);
    const lines = this.deps.catalog.history(name).length;
    const [epoch, latest] = await Promise.all([this.deps.store.findHistoryEpoch(name), this.deps.generations.latest(name)]);
    const main = latest && { number: latest.number, hash: latest.hash };
    const views = await Promise.all(nodes.map(async (n): Promise<ProcessorNodeView> => {
      const p = await this.position(n, name);
      if (p.kind === 'absent') return { nodeCode: n.nodeCode, state: 'absent' };
      if (p.kind === 'unreachable') return { nodeCode: n.nodeCode, state: 'unreachable', error: withoutCredentials(p.error) };
      const s = p.state;
      const sameEpoch = s.epoch === epoch;
      const applied = sameEpoch ? s.applied ?? 0 : 0;
      const state: NodeStep = sameEpoch && applied === lines ? 'in-step' : s.lastError ? 'failing' : 'behind';
      return {
        nodeCode: n.nodeCode, state, applied, ...(s.epoch !== undefined ? { epoch: s.epoch } : {}), syncing: Boolean(s.syncOperationId),
        ...(s.lastSyncAt ? { lastSyncAt: s.lastSyncAt } : {}), ...(s.lastError ? { error: s.lastError } : {}),
        ...(sameEpoch && s.failing ? { failing: s.failing } : {}), ...(sameEpoch && s.skipped?.length ? { skipped: s.skipped } : {}),
        ...(p.generation ? { generation: p.generation } : {}), ...(p.generation && main ? { drifted: p.generation.hash !== main.hash } : {}),
      };
    }));
    const drifted = views.filter((v) => v.drifted).map((v) => v.nodeCode);
    return { processor: name, epoch, lines, ...(main ? { generation: main } : {}), drifted, nodes: views };
  }
}

const text = (v: unknown, max: number): string | undefined => (typeof v === 'string' ? withoutCredentials(v).slice(0, max) : undefined);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);

/** A compute node's answer as an object (anything else reads as an empty one). */
function answerOf(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

/** A generation position as a node reports it: a number from 1 and a sha256 in hex, or nothing. */
function generationOf(v: unknown): GenerationPosition | undefined {
  const g = v as Record<string, unknown> | null | undefined;
  const number = count(g?.number);
  return number !== undefined && number >= 1 && typeof g?.hash === 'string' && /^[0-9a-f]{64}$/.test(g.hash) ? { number, hash: g.hash } : undefined;
}

/**
 * A compute node's answer, checked field by field rather than cast: what does not have the expected shape is left
 * out, and text is cut short and stripped of URL credentials before it is shown to a plain reader.
 */
function syncStateOf(raw: Record<string, unknown>): Partial<SyncState> {
  const out: Partial<SyncState> = {};
  const epoch = text(raw.epoch, 100);
  if (epoch !== undefined) out.epoch = epoch;
  const applied = count(raw.applied);
  if (applied !== undefined) out.applied = applied;
  const lastSyncAt = count(raw.lastSyncAt);
  if (lastSyncAt !== undefined) out.lastSyncAt = lastSyncAt;
  const lastError = text(raw.lastError, 1500);
  if (lastError) out.lastError = lastError;
  const op = text(raw.syncOperationId, 100);
  if (op) out.syncOperationId = op;
  const f = raw.failing as Record<string, unknown> | undefined;
  if (f && typeof f === 'object') {
    const [index, line, message, attempts, retryAt] = [count(f.index), text(f.line, 200), text(f.message, 1000), count(f.attempts), count(f.retryAt)];
    if (index !== undefined && line !== undefined && message !== undefined && attempts !== undefined && retryAt !== undefined) out.failing = { index, line, message, attempts, retryAt };
  }
  if (Array.isArray(raw.skipped)) {
    out.skipped = raw.skipped.slice(0, 100).flatMap((e: Record<string, unknown> | null) => {
      const [index, line, reason] = [count(e?.index), text(e?.line, 200), text(e?.reason, 300)];
      return index !== undefined && line !== undefined && reason !== undefined ? [{ index, line, reason }] : [];
    });
  }
  return out;
}
