import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../domain/errors.ts';
import type { Operation } from '../domain/operation.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { Store } from '../store/types.ts';
import { executeOperation, type ExecuteDeps } from './execute.ts';
import { SerialRunner } from '../util/serial-runner.ts';
import { LogBuffer } from './log-buffer.ts';
import { killOrphanGroup } from './orphans.ts';
import { untilStored } from './until-stored.ts';

/** The user that operations procenv queues by itself are recorded under. */
export const SYSTEM_USER = 'procenv';

export interface WorkerOptions extends Omit<ExecuteDeps, 'log' | 'persist'> {
  log: Logger;
  nodeCode: string;
  concurrency: number;
  leaseMs: number;
  /** How often the store is polled for operations other processes queued, and for scheduled ones whose time came (ms). */
  pollMs?: number;
  /** Moves scheduled operations that missed their window to its next opening (services/schedules.ts). */
  schedules?: { sweepMissed(now?: number): Promise<number> };
}

interface Running {
  op: Operation;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * The durable queue's worker. Operations are claimed from the store (an atomic claim: at most one RUNNING per
 * processor, oldest first, across processes), run up to `concurrency` at a time, and held by a lease renewed every
 * third of its length. A lease that lapses means its worker died (kill -9, power loss): the operation is queued
 * again when no package-manager process had started for it, and otherwise ends ERROR with the reason.
 */
export class OperationWorker {
  readonly id: string;
  private readonly opts: WorkerOptions;
  private readonly store: Store;
  private readonly lifecycle: Lifecycle;
  private readonly log: Logger;
  private readonly running = new Map<string, Running>();
  private heartbeat?: NodeJS.Timeout;
  private poller?: NodeJS.Timeout;
  private readonly claimer = new SerialRunner(() => this.claimLoop());
  /** One heartbeat at a time: a beat that waits for a busy store is not overlapped by the next one. */
  private readonly beater = new SerialRunner(() => this.beat());
  /**
   * Lapsed leases of other workers as first seen (lease end, when): one is taken as lost only when it is still
   * lapsed, unrenewed, a whole lease later. A worker that is alive but could not renew while another process
   * locked the store renews as soon as the store answers, well within that time.
   */
  private readonly lapseSeen = new Map<string, { leaseExpiresAt: number | undefined; at: number }>();
  private stopped = true;
  private claimsBlocked = false;
  private lastSweep = 0;

  constructor(options: WorkerOptions) {
    this.opts = options;
    this.store = options.store;
    this.lifecycle = options.lifecycle;
    this.log = options.log;
    this.id = `${options.nodeCode}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.recoverLapsed().catch((err) => this.log.warn({ err }, 'lost operations not checked at start; the heartbeat will'));
    const beat = Math.max(200, Math.floor(this.opts.leaseMs / 3));
    this.heartbeat = setInterval(() => this.beater.trigger(), beat);
    this.poller = setInterval(() => this.wake(), this.opts.pollMs ?? 1000);
    this.heartbeat.unref();
    this.poller.unref();
    this.log.info({ workerId: this.id, concurrency: this.opts.concurrency }, 'worker started');
    this.wake();
  }

  /**
   * Stops claiming and cancels what runs: the package-manager processes are killed and their operations end
   * ERROR (INTERRUPTED), as after a crash but without waiting for the lease to lapse.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearInterval(this.poller);
    for (const r of this.running.values()) r.controller.abort(new Error('shutdown'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Whether the worker claims and runs operations (started and not stopped). */
  get active(): boolean {
    return !this.stopped;
  }

  /** Looks for work now (after an operation is queued or finishes). */
  wake(): void {
    if (!this.stopped) this.claimer.trigger();
  }

  /** Kills a RUNNING operation this worker runs; answers false when it does not run it. */
  cancel(processObjId: string): boolean {
    const r = this.running.get(processObjId);
    if (!r) return false;
    r.controller.abort(new Error('cancelled'));
    return true;
  }

  private async claimLoop(): Promise<void> {
    try {
      // A scheduled operation is claimable from its notBefore on: the poller's next tick takes it, no timer of its own.
      // Those that missed their window are moved to its next opening first, at most once a second.
      if (this.opts.schedules && Date.now() - this.lastSweep >= 1000) {
        this.lastSweep = Date.now();
        // A sweep that fails does not stop the claims: those operations cannot be claimed anyway (past notAfter).
        await this.opts.schedules.sweepMissed().catch((err: unknown) => {
          if (!(err instanceof StoreUnavailableError)) this.log.error({ err }, 'moving scheduled operations that missed their window failed');
        });
      }
      while (!this.stopped && this.running.size < this.opts.concurrency) {
        const now = Date.now();
        const op = await this.lifecycle.claim(this.opts.nodeCode, this.id, now + this.opts.leaseMs, now);
        if (!op) break;
        this.launch(op);
      }
    } catch (err) {
      // A busy or missing store is waited out: the poller tries again every second, and says so once.
      if (!(err instanceof StoreUnavailableError)) this.log.error({ err }, 'claiming an operation failed');
      else if (!this.claimsBlocked) this.log.warn({ code: err.code, reason: err.details?.reason }, 'store unavailable: no operation is claimed until it answers');
      this.claimsBlocked = err instanceof StoreUnavailableError;
      return;
    }
    if (this.claimsBlocked) this.log.info('store answers again: operations are claimed');
    this.claimsBlocked = false;
  }

  private launch(op: Operation): void {
    const controller = new AbortController();
    const log = this.log.child({ operationId: op.processObjId, processor: op.productName });
    const entry: Running = { op, controller, done: Promise.resolve() };
    this.running.set(op.processObjId, entry);
    entry.done = this.run(op, controller, log)
      .catch((err) => log.error({ err }, 'operation outcome not recorded; its lease will lapse and it will be taken as lost'))
      .finally(() => {
        this.running.delete(op.processObjId);
        this.wake();
      });
  }

  /** A store write that records the truth about an operation, retried until the store answers or the worker stops. */
  private persist<T>(what: string, write: () => Promise<T>, log: Logger): Promise<T> {
    return untilStored(what, write, { log, stopped: () => this.stopped });
  }

  private async run(op: Operation, controller: AbortController, log: Logger): Promise<void> {
    log.info({ commands: op.commands, waitedMs: (op.operationStartTimestamp ?? Date.now()) - op.operationTimestamp }, 'operation started');
    const out = new LogBuffer((lines) => this.lifecycle.appendLog(op, lines), op.processObjId, log);
    try {
      await this.runLogged(op, controller, log, out);
    } finally {
      out.close();
    }
  }

  private async runLogged(op: Operation, controller: AbortController, log: Logger, out: LogBuffer): Promise<void> {
    let outcome;
    const persist = <T>(what: string, write: () => Promise<T>) => this.persist(what, write, log);
    try {
      outcome = await executeOperation({ ...this.opts, log, persist }, op, out, controller.signal, (perc) => {
        this.lifecycle.progress(op, perc)
          .catch((err) => log.warn({ err, perc }, 'operation progress not stored'));
      });
    } catch (err) {
      log.error({ err }, 'operation crashed');
      outcome = { status: 'ERROR' as const, applied: [], error: { code: 'INTERNAL', message: (err as Error).message } };
    }
    if (outcome.status === 'STOPPED' && controller.signal.reason instanceof Error && controller.signal.reason.message === 'shutdown') {
      outcome = { ...outcome, status: 'ERROR' as const, error: { code: 'INTERRUPTED', message: 'procenv stopped while this operation ran; the environment may be partly changed: check listPackages and run it again' } };
    }
    out.push('procenv', `operation ${outcome.status}${outcome.error ? `: ${outcome.error.message}` : ''}`);
    // The whole log before the status, waiting for the store as the status does: a client that sees the operation
    // end reads every line of it.
    await persist('operation log', () => out.drain()).catch((err) => log.warn({ err }, 'operation log incomplete'));
    const finished = await persist('operation end', () => this.lifecycle.end(op, outcome.status, {
      appliedCount: outcome.applied.length, ...(outcome.error ? { error: outcome.error } : {}), ...(outcome.rollback ? { rollback: outcome.rollback } : {}),
    }));
    if (!finished) {
      log.warn('operation left RUNNING by someone else before it ended; its result is not recorded');
      return;
    }
    const level = outcome.status === 'DONE' ? 'info' : 'warn';
    log[level]({ status: outcome.status, durationMs: finished.durationMs, code: outcome.error?.code }, 'operation finished');
    // Also on shutdown: the refresh is stored now and runs after the next start.
    if (outcome.refreshNeeded) await this.queueRefresh(finished, 'a command cut short may have changed the environment');
  }

  /**
   * Queues a refresh of a processor's packagesInfo.json after an operation that ended without one (cancelled or
   * lost while a command ran), so that the file tells the truth again.
   */
  private async queueRefresh(after: Operation, reason: string): Promise<void> {
    const now = Date.now();
    const refresh: Operation = {
      processObjId: randomUUID(), operationType: 'ENVIRONMENTUPDATE', processorId: after.processorId, productName: after.productName,
      workspaceId: '-', userId: SYSTEM_USER, nodeCode: this.opts.nodeCode, status: 'CREATED', commands: [],
      operationTimestamp: now, lastStateChangeTimestamp: now, progressPerc: 0,
    };
    try {
      await this.lifecycle.queue(refresh);
      this.log.info({ operationId: refresh.processObjId, processor: after.productName, after: after.processObjId, reason }, 'refresh queued');
      this.wake();
    } catch (err) {
      this.log.warn({ err, processor: after.productName }, 'refresh could not be queued');
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      const ids = [...this.running.keys()];
      if (ids.length) {
        await this.store.renewLeases(ids, this.id, Date.now() + this.opts.leaseMs);
        // A cancel asked through another process on the same store is seen here.
        for (const id of ids) {
          const op = await this.store.findOperation(id);
          if (op?.cancelRequested) this.cancel(id);
        }
      }
      await this.recoverLapsed();
    } catch (err) {
      this.log.warn({ err }, 'worker heartbeat failed');
    }
  }

  /** Operations whose worker died: queued again if nothing ran yet, otherwise ERROR with the reason. */
  private async recoverLapsed(): Promise<void> {
    const now = Date.now();
    const lapsed = await this.store.listLapsedOperations(this.opts.nodeCode, now);
    const stillLapsed = new Set(lapsed.map((op) => op.processObjId));
    for (const id of this.lapseSeen.keys()) if (!stillLapsed.has(id)) this.lapseSeen.delete(id);
    for (const op of lapsed) {
      // This worker's own operations are alive by definition, whatever their lease says after a long store lock.
      if (this.running.has(op.processObjId)) continue;
      const seen = this.lapseSeen.get(op.processObjId);
      if (!seen || seen.leaseExpiresAt !== op.leaseExpiresAt) {
        this.lapseSeen.set(op.processObjId, { leaseExpiresAt: op.leaseExpiresAt, at: now });
        continue;
      }
      if (now - seen.at < this.opts.leaseMs) continue;
      this.lapseSeen.delete(op.processObjId);
      if (!op.executionStarted) {
        const requeued = await this.lifecycle.requeueLost(op);
        if (requeued) this.log.warn({ operationId: op.processObjId, processor: op.productName }, 'lost operation queued again (it had not started)');
        continue;
      }
      const failed = await this.lifecycle.failLost(op);
      if (failed) {
        // Killed only once the operation is ours to end: its owner may have renewed or ended it meanwhile.
        if (killOrphanGroup(op.pid, op.pidStartTime)) {
          this.log.warn({ operationId: op.processObjId, pid: op.pid }, 'killed the package-manager processes a lost worker left running');
        }
        await this.lifecycle.appendLog(op, [{ t: now, stream: 'procenv', line: `operation ERROR: ${failed.error!.message}` }]);
        this.log.warn({ operationId: op.processObjId, processor: op.productName }, 'lost operation ended ERROR');
        await this.queueRefresh(failed, 'an operation was lost while a command ran');
      }
    }
    this.wake();
  }
}
