import type { Logger } from 'pino';
import type { ClusterHistory, SyncState } from '../domain/cluster.ts';
import { isFinal, type Operation } from '../domain/operation.ts';
import type { Caller } from '../domain/user.ts';
import type { EnvironmentService, InsertResult } from '../services/environments.ts';
import type { Store } from '../store/types.ts';
import { describeFailure, type PeerClient } from './peer-client.ts';

export interface SyncOptions {
  store: Store;
  environments: EnvironmentService;
  peer: PeerClient;
  log: Logger;
  mainUrl: string;
  intervalMs: number;
}

/** The system user the catch-up operations are recorded under. */
export const SYNC_USER: Caller = { userId: 'procenv-sync', admin: true };

/** How many of a processor's latest operations a compute node looks through to know which changes ran here. */
const LOCAL_SCAN = 1000;

/**
 * A compute node's convergence (replaces WASDI's replay on a fresh container, reference §3.3): per processor it
 * keeps how many lines of the main node's history it has applied, in which history epoch; on start, after each
 * delivered change and periodically it reads the main node's history and applies the lines it misses, in order, as
 * one local operation. The main node names the operation that wrote each line, so a line whose change already ran
 * here through its delivery is passed over, and a delivery that arrives after a catch-up took its line in is
 * answered with that catch-up instead of running again. At the first line not applied here, the rest is applied
 * in the main node's order.
 */
export class SyncService {
  private readonly o: SyncOptions;
  private readonly locks = new Map<string, Promise<unknown>>();
  private timer?: NodeJS.Timeout;
  private stopped = true;

  constructor(options: SyncOptions) {
    this.o = options;
  }

  async start(): Promise<void> {
    this.stopped = false;
    void this.syncAll();
    this.timer = setInterval(() => void this.syncAll(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.locks.values()]);
  }

  async syncAll(): Promise<void> {
    for (const p of await this.o.store.listProcessors()) {
      if (this.stopped) return;
      await this.sync(p.name).catch((err) => this.o.log.warn({ err, processor: p.name }, 'sync failed'));
    }
  }

  /** Where this node stands for a processor (served to the main node). */
  async position(processorName: string): Promise<SyncState | undefined> {
    return this.o.store.findSyncState(processorName);
  }

  /**
   * Admits a delivered change: a catch-up operation that applies (or applied) the same change of the main node
   * answers for it; otherwise `insert` runs, alone with the catch-up decisions of this processor.
   */
  admitDelivery(name: string, originId: string, insert: () => Promise<InsertResult>): Promise<InsertResult> {
    return this.exclusive(name, async () => {
      const catchUps = await this.o.store.listOperations({ processorName: name, userId: SYNC_USER.userId, limit: LOCAL_SCAN });
      const covering = catchUps.find((op) => op.sync?.origins?.includes(originId) && (op.status === 'DONE' || !isFinal(op.status)));
      return covering ? { operation: covering, created: false } : insert();
    });
  }

  /** Runs `fn` alone for this processor: state updates from syncs and from finished operations never interleave. */
  private exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(name, tail);
    void tail.then(() => {
      if (this.locks.get(name) === tail) this.locks.delete(name);
    });
    return next;
  }

  private async state(name: string): Promise<SyncState> {
    return (await this.o.store.findSyncState(name)) ?? { processorName: name, epoch: '', applied: 0 };
  }

  /**
   * The main node's changes this node has applied to a processor (by their operation ids: a delivery's origin, each
   * origin a catch-up covered), and whether one of them (a delivery or a catch-up) is still queued or running here.
   */
  private async localChanges(name: string): Promise<{ applied: Set<string>; unfinished: boolean }> {
    const applied = new Set<string>();
    let unfinished = false;
    for (const op of await this.o.store.listOperations({ processorName: name, limit: LOCAL_SCAN })) {
      const origins = op.origin ? [op.origin.operationId] : op.sync?.origins;
      if (!origins) continue;
      if (!isFinal(op.status)) unfinished = true;
      if (op.status === 'DONE') for (const id of origins) applied.add(id);
    }
    return { applied, unfinished };
  }

  private async readHistory(name: string, from: number): Promise<ClusterHistory> {
    const res = await this.o.peer.getJson(this.o.mainUrl, `cluster/processors/${encodeURIComponent(name)}/history`, { from: String(from) });
    if (res.statusCode !== 200) throw new Error(`the main node answered ${res.statusCode}`);
    return JSON.parse(res.body) as ClusterHistory;
  }

  /** Compares with the main node's history and queues the lines this node misses. */
  async sync(name: string): Promise<void> {
    if (this.stopped) return;
    const before = await this.state(name);
    let history: ClusterHistory;
    try {
      // Read outside the lock (deliveries are not held up by the main node's answer), and before this node's
      // operations are looked at, so that a delivery arriving meanwhile is seen.
      history = await this.readHistory(name, before.applied);
      // A new epoch, or a history shorter than this node's position (edited by hand): read it whole.
      if (history.from > 0 && (history.epoch !== before.epoch || history.lines.length < history.from)) history = await this.readHistory(name, 0);
    } catch (err) {
      await this.exclusive(name, async () => {
        const state = await this.state(name);
        state.lastError = `cannot read the main node's history: ${describeFailure(err)}`;
        await this.o.store.saveSyncState(state);
      });
      return;
    }
    await this.exclusive(name, () => this.catchUp(name, history));
  }

  private async catchUp(name: string, history: ClusterHistory): Promise<void> {
    if (this.stopped) return;
    const state = await this.state(name);
    if (state.syncOperationId) {
      const op = await this.o.store.findOperation(state.syncOperationId);
      if (op && !isFinal(op.status)) return;
      if (op) this.settle(state, op);
      else delete state.syncOperationId;
    }
    const { lines, epoch, origins } = history;
    if (epoch !== state.epoch || state.applied > lines.length) {
      // A new history (reset on the main node, or the first sync) starts at its first line; the next round reads it
      // whole when this one began further on.
      if (history.from > 0) return;
      state.epoch = epoch;
      state.applied = 0;
    }
    if (state.applied < history.from) return;
    const local = await this.localChanges(name);
    let i = state.applied;
    while (i < lines.length && origins[i] !== undefined && local.applied.has(origins[i]!)) i++;
    state.applied = i;
    state.lastSyncAt = Date.now();
    const missing = lines.slice(i);
    // A change from the main node still queued or running here applies its line in the main node's order, and its
    // end calls sync again; queuing the line now would run it after later deliveries (an upgrade undone by an older
    // pin).
    if (missing.length > 0 && local.unfinished) {
      await this.o.store.saveSyncState(state);
      return;
    }
    if (missing.length > 0) {
      const processor = await this.o.store.findProcessorByName(name);
      if (!processor) return;
      const covered = missing.map((_, k) => origins[i + k]).filter((id) => id !== undefined);
      try {
        const { operation } = await this.o.environments.requestUpdate(SYNC_USER, {
          processorId: processor.processorId, workspace: '-', updateCommands: missing,
          sync: { epoch, from: i, to: lines.length, ...(covered.length ? { origins: covered } : {}) },
        });
        state.syncOperationId = operation.processObjId;
        state.syncTarget = lines.length;
        this.o.log.info({ processor: name, from: i, to: lines.length, operationId: operation.processObjId }, 'catching up with the main node');
      } catch (err) {
        state.lastError = `cannot queue the missing lines: ${(err as Error).message}`;
      }
    } else if (!state.syncOperationId) {
      delete state.lastError;
    }
    await this.o.store.saveSyncState(state);
  }

  /** Called for every operation that ends on this node. */
  onOperationFinished(op: Operation): void {
    if (!op.sync && !op.origin) return;
    const settled = op.sync
      ? this.exclusive(op.productName, async () => {
        const state = await this.state(op.productName);
        this.settle(state, op);
        await this.o.store.saveSyncState(state);
      })
      : Promise.resolve();
    void settled.then(() => this.sync(op.productName)).catch((err) => this.o.log.warn({ err, processor: op.productName }, 'sync after operation failed'));
  }

  private settle(state: SyncState, op: Operation): void {
    if (state.syncOperationId !== op.processObjId || !op.sync) return;
    delete state.syncOperationId;
    delete state.syncTarget;
    if (op.status === 'DONE' && op.sync.epoch === state.epoch) {
      state.applied = Math.max(state.applied, op.sync.to);
      delete state.lastError;
    } else if (op.status !== 'DONE') {
      state.lastError = `catching up failed: ${op.error?.message ?? op.status}`;
    }
  }
}
