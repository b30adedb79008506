import type { Hold } from '../domain/holds.ts';
import type { Logger } from 'pino';
import { withoutCredentials, type ClusterHistory, type SyncState } from '../domain/cluster.ts';
import { isFinal, type Operation } from '../domain/operation.ts';
import { managerKindOf } from '../domain/processor.ts';
import type { Caller } from '../domain/user.ts';
import type { EnvironmentService, InsertResult } from '../services/environments.ts';
import type { Store } from '../store/types.ts';
import { planCatchUp, recordSkipped, retryDelayMs, shownLine, succeededCommands } from './catch-up-plan.ts';
import { describeFailure, type PeerClient } from './peer-client.ts';

export interface SyncOptions {
  store: Store;
  environments: EnvironmentService;
  peer: PeerClient;
  log: Logger;
  mainUrl: string;
  intervalMs: number;
  /** A failed catch-up is tried again after base · 2^(failures−1), capped at max, with jitter (ms). */
  retryBaseMs: number;
  retryMaxMs: number;
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
 * in the main node's order, in operations of at most MAX_COMMANDS commands. A line that is not a valid update
 * command is never run: it is passed over and recorded in the state. A catch-up that fails leaves the lines that
 * ran applied and the failing line named in the state; it is tried again with exponential backoff, never at once
 * (a line this node cannot apply would otherwise re-run every few seconds, forever).
 */
export class SyncService {
  private readonly o: SyncOptions;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private timer?: NodeJS.Timeout;
  private stopped = true;

  constructor(options: SyncOptions) {
    this.o = options;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const all = () => this.syncAll().catch((err) => this.o.log.warn({ err }, 'sync round failed'));
    void all();
    this.timer = setInterval(() => void all(), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
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
    await this.followHolds(name, history.holds).catch((err) => this.o.log.warn({ err, processor: name }, 'the main node\'s holds not stored'));
    await this.exclusive(name, () => this.catchUp(name, history));
  }

  /** The main node's holds of a processor become this node's (a main node without holds sends none: nothing changes). */
  private async followHolds(name: string, holds: unknown): Promise<void> {
    if (!Array.isArray(holds)) return;
    const valid = holds.filter((h): h is Hold => h !== null && typeof h === 'object' && typeof h.key === 'string' && typeof h.package === 'string'
      && typeof h.reason === 'string' && typeof h.userId === 'string' && typeof h.createdAt === 'number').map((h) => ({ ...h, processorName: name }));
    const local = await this.o.store.listHolds(name);
    const canon = (list: Hold[]) => JSON.stringify(list.map((h) => [h.key, h.package, h.reason, h.userId, h.createdAt, h.version ?? null]).sort());
    if (canon(local) === canon(valid)) return;
    await this.o.store.replaceHolds(name, valid);
    this.o.log.info({ processor: name, holds: valid.map((h) => h.key) }, 'holds taken from the main node');
  }

  private async catchUp(name: string, history: ClusterHistory): Promise<void> {
    if (this.stopped) return;
    const state = await this.state(name);
    if (state.syncOperationId) {
      const op = await this.o.store.findOperation(state.syncOperationId);
      if (op && !isFinal(op.status)) return;
      if (op) await this.settle(state, op);
      else this.clearInFlight(state);
    }
    const { lines, epoch, origins } = history;
    if (epoch !== state.epoch || state.applied > lines.length) {
      // A new history (reset on the main node, or the first sync) starts at its first line; the next round reads it
      // whole when this one began further on.
      if (history.from > 0) return;
      state.epoch = epoch;
      state.applied = 0;
      delete state.failing;
      delete state.skipped;
    }
    if (state.applied < history.from) return;
    // Lines the history no longer holds as they were (edited by hand) are no longer skipped or failing.
    if (state.skipped) state.skipped = state.skipped.filter((s) => lines[s.index] !== undefined && shownLine(lines[s.index]!) === s.line);
    const local = await this.localChanges(name);
    let i = state.applied;
    while (i < lines.length && origins[i] !== undefined && local.applied.has(origins[i]!)) i++;
    state.applied = i;
    state.lastSyncAt = Date.now();
    if (state.failing && state.failing.index !== i) delete state.failing;
    // A change from the main node still queued or running here applies its line in the main node's order, and its
    // end calls sync again; queuing the line now would run it after later deliveries (an upgrade undone by an older
    // pin).
    if (i < lines.length && local.unfinished) {
      await this.o.store.saveSyncState(state);
      return;
    }
    if (i < lines.length && state.failing && state.failing.retryAt > Date.now()) {
      this.scheduleRetry(name, state.failing.retryAt);
      await this.o.store.saveSyncState(state);
      return;
    }
    if (i < lines.length) {
      const processor = await this.o.store.findProcessorByName(name);
      if (!processor) return;
      const kind = managerKindOf(processor.type);
      // Without a package manager nothing can be applied; requestUpdate names the reason below.
      const plan = planCatchUp(lines, i, kind ?? 'pip');
      for (const skip of plan.skipped) {
        if (recordSkipped(state, skip)) this.o.log.warn({ processor: name, index: skip.index, line: skip.line, reason: skip.reason }, 'history line skipped: not a valid update command');
      }
      if (plan.commands.length === 0) {
        state.applied = plan.to;
        delete state.lastError;
        delete state.failing;
      } else {
        const covered = plan.indexes.map((k) => origins[k]).filter((id) => id !== undefined);
        try {
          const { operation } = await this.o.environments.requestUpdate(SYNC_USER, {
            processorId: processor.processorId, workspace: '-', updateCommands: plan.commands,
            sync: { epoch, from: i, to: plan.to, ...(covered.length ? { origins: covered } : {}) },
          });
          state.syncOperationId = operation.processObjId;
          state.syncTarget = plan.to;
          state.syncLines = plan.indexes;
          this.o.log.info({ processor: name, from: i, to: plan.to, commands: plan.commands.length, operationId: operation.processObjId }, 'catching up with the main node');
        } catch (err) {
          // Lines skipped before the first command are passed over either way.
          state.applied = plan.indexes[0]!;
          this.fail(name, state, plan.indexes[0]!, plan.commands[0]!, `cannot queue the missing lines: ${(err as Error).message}`);
        }
      }
    } else if (!state.syncOperationId) {
      delete state.lastError;
      delete state.failing;
    }
    await this.o.store.saveSyncState(state);
  }

  /** Called for every operation that ends on this node. */
  onOperationFinished(op: Operation): void {
    if (!op.sync && !op.origin) return;
    const settled = op.sync
      ? this.exclusive(op.productName, async () => {
        const state = await this.state(op.productName);
        await this.settle(state, op);
        await this.o.store.saveSyncState(state);
      })
      : Promise.resolve();
    // A failed catch-up has set its retry time, so this sync queues nothing until then; a finished one goes on with
    // the next lines at once.
    void settled.then(() => this.sync(op.productName)).catch((err) => this.o.log.warn({ err, processor: op.productName }, 'sync after operation failed'));
  }

  private clearInFlight(state: SyncState): void {
    delete state.syncOperationId;
    delete state.syncTarget;
    delete state.syncLines;
  }

  /**
   * The end of this node's catch-up: done, its range is applied. Failed, the lines before the failing command are
   * applied (they ran: a catch-up retried from its first line would run them all again), and the failing line
   * waits for its retry.
   */
  private async settle(state: SyncState, op: Operation): Promise<void> {
    if (state.syncOperationId !== op.processObjId || !op.sync) return;
    const indexes = state.syncLines;
    this.clearInFlight(state);
    if (op.sync.epoch !== state.epoch) return;
    if (op.status === 'DONE') {
      state.applied = Math.max(state.applied, op.sync.to);
      delete state.lastError;
      delete state.failing;
      return;
    }
    const message = op.error?.message ?? op.status;
    const ran = indexes ? succeededCommands(op) : 0;
    if (indexes && ran >= indexes.length) {
      // Every command ran; only the package list could not be refreshed afterwards.
      state.applied = Math.max(state.applied, op.sync.to);
      state.lastError = `catching up: ${message}`;
      return;
    }
    const index = indexes?.[ran] ?? op.sync.from;
    state.applied = Math.max(state.applied, index);
    this.fail(op.productName, state, index, op.commands[ran] ?? '', message);
  }

  /** Records the line a catch-up could not apply and when to try it again (exponential backoff with jitter). */
  private fail(name: string, state: SyncState, index: number, line: string, message: string): void {
    const attempts = state.failing?.index === index ? state.failing.attempts + 1 : 1;
    const delay = retryDelayMs(attempts, this.o.retryBaseMs, this.o.retryMaxMs);
    const shown = shownLine(line);
    const why = withoutCredentials(message).slice(0, 1000);
    state.failing = { index, line: shown, message: why, attempts, retryAt: Math.round(Date.now() + delay) };
    state.lastError = `catching up failed at line ${index + 1} (${shown}): ${why}`;
    this.o.log.warn({ processor: name, index, line: shown, attempts, retryInMs: Math.round(delay) }, 'catch-up failed; it will be retried');
    this.scheduleRetry(name, state.failing.retryAt);
  }

  private scheduleRetry(name: string, at: number): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimers.get(name));
    const timer = setTimeout(() => {
      this.retryTimers.delete(name);
      this.sync(name).catch((err) => this.o.log.warn({ err, processor: name }, 'catch-up retry failed'));
    }, Math.max(0, at - Date.now()) + 10);
    timer.unref();
    this.retryTimers.set(name, timer);
  }
}
