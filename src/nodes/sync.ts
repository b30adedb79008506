import type { Logger } from 'pino';
import type { SyncState } from '../domain/cluster.ts';
import { isFinal, type Operation } from '../domain/operation.ts';
import type { Caller } from '../domain/user.ts';
import type { EnvironmentService } from '../services/environments.ts';
import type { Store } from '../store/types.ts';
import { HISTORY_EPOCH_HEADER } from './cluster-headers.ts';
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

/**
 * A compute node's convergence (replaces WASDI's replay on a fresh container, reference §3.3): per processor it
 * keeps how many lines of the main node's history it has applied, in which history epoch; on start, after each
 * delivered change and periodically it reads the main node's environmentActions and applies the lines it misses, in
 * order, as one local operation. Lines this node already applied through deliveries are matched, not run again;
 * at the first line that does not match, matching stops and the rest is applied in the main node's order.
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
    return (await this.o.store.findSyncState(name)) ?? { processorName: name, epoch: '', applied: 0, matched: [] };
  }

  /** Compares with the main node's history and queues the lines this node misses. */
  sync(name: string): Promise<void> {
    return this.exclusive(name, async () => {
      if (this.stopped) return;
      const state = await this.state(name);
      if (state.syncOperationId) {
        const op = await this.o.store.findOperation(state.syncOperationId);
        if (op && !isFinal(op.status)) return;
        if (op) this.settle(state, op);
        else delete state.syncOperationId;
      }
      let lines: string[];
      let epoch: string;
      try {
        const res = await this.o.peer.getJson(this.o.mainUrl, 'packageManager/environmentActions', { name });
        if (res.statusCode !== 200) throw new Error(`the main node answered ${res.statusCode}`);
        lines = JSON.parse(res.body) as string[];
        epoch = String(res.headers[HISTORY_EPOCH_HEADER] ?? '0');
      } catch (err) {
        state.lastError = `cannot read the main node's history: ${describeFailure(err)}`;
        await this.o.store.saveSyncState(state);
        return;
      }
      if (epoch !== state.epoch || state.applied > lines.length) {
        // A new history (reset on the main node, or the first sync): start at its first line. Matches kept from
        // the old history could pair with a new line by its text alone, so they go: at worst a line runs twice.
        state.epoch = epoch;
        state.applied = 0;
        state.matched = [];
      }
      let i = state.applied;
      while (i < lines.length && state.matched.length > 0 && state.matched[0] === lines[i]) {
        state.matched.shift();
        i++;
      }
      if (i < lines.length) state.matched = [];
      state.applied = i;
      state.lastSyncAt = Date.now();
      const missing = lines.slice(i);
      // A delivered change still queued or running here applies its line in the main node's order; queuing the
      // line again now would run it after the later deliveries (an upgrade undone by an older pin). Its end
      // calls sync again. Asked after reading the history, so that a delivery arriving meanwhile is seen.
      if (missing.length > 0 && (await this.deliveryUnfinished(name))) {
        await this.o.store.saveSyncState(state);
        return;
      }
      if (missing.length > 0) {
        const processor = await this.o.store.findProcessorByName(name);
        if (!processor) return;
        try {
          const { operation } = await this.o.environments.requestUpdate(SYNC_USER, {
            processorId: processor.processorId, workspace: '-', updateCommands: missing,
            sync: { epoch, from: i, to: lines.length },
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
    });
  }

  private async deliveryUnfinished(name: string): Promise<boolean> {
    const unfinished = await this.o.store.listOperations({ processorName: name, status: ['CREATED', 'RUNNING'], limit: 500 });
    return unfinished.some((op) => op.origin);
  }

  /** Called for every operation that ends on this node. */
  onOperationFinished(op: Operation): void {
    if (!op.sync && !op.origin) return;
    void this.exclusive(op.productName, async () => {
      const state = await this.state(op.productName);
      if (op.sync) this.settle(state, op);
      else if (op.origin && op.status === 'DONE') state.matched.push(...op.commands);
      await this.o.store.saveSyncState(state);
    }).then(() => this.sync(op.productName)).catch((err) => this.o.log.warn({ err, processor: op.productName }, 'sync after operation failed'));
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
