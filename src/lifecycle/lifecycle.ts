import type { Logger } from 'pino';
import type { Delivery } from '../domain/cluster.ts';
import type { EventDraft, EventType } from '../domain/events.ts';
import type { GenerationDraft, GenerationSummary } from '../domain/generations.ts';
import { viewOf, type Operation, type OperationError, type OperationLogLine } from '../domain/operation.ts';
import { operationTransitions, type Transition } from '../domain/operation-states.ts';
import type { Store } from '../store/types.ts';

type DeliveryTransition = Transition<Delivery['state'], Delivery>;

/** What happens in this process after a change was stored (wake the worker, fan out, report to the main node). */
export interface LifecycleHooks {
  /** An operation was stored CREATED. */
  queued?: (op: Operation) => void;
  /** A worker of this process claimed an operation (CREATED → RUNNING). */
  started?: (op: Operation) => void;
  /** An operation reached DONE, ERROR or STOPPED, by whatever path (its worker, a cancel, a lost worker). */
  ended?: (op: Operation) => void;
  /** Events were journaled by this process (the event hub reads them at once instead of at its next poll). */
  journaled?: () => void;
}

function draft(type: EventType, processor: string, operationId: string | undefined, data: Record<string, unknown>, at = Date.now()): EventDraft {
  return { type, at, processor, ...(operationId ? { operationId } : {}), data };
}

function opEvent(type: EventType, extra: Record<string, unknown> = {}) {
  return (op: Operation): EventDraft[] => [draft(type, op.productName, op.processObjId, { operation: viewOf(op), ...extra })];
}

/**
 * The one component that changes operations and deliveries. Each method applies a transition of
 * `domain/operation-states.ts` through the store and journals the event it means in the same write; then it tells
 * this process's hooks. Nothing else writes an operation's status, a delivery's state or an event, so the event
 * journal holds every change, also those made by another process on the same store.
 */
export class Lifecycle {
  hooks: LifecycleHooks = {};

  constructor(private readonly store: Store, private readonly log: Logger) {}

  private journaled(): void {
    this.hooks.journaled?.();
  }

  private ended(op: Operation | undefined): Operation | undefined {
    if (op) {
      this.journaled();
      try {
        this.hooks.ended?.(op);
      } catch (err) {
        this.log.error({ err, operationId: op.processObjId }, 'operation end hook failed');
      }
    }
    return op;
  }

  /** Stores a new CREATED operation (an idempotency key already used answers the earlier one, and nothing happens). */
  async queue(op: Operation): Promise<{ operation: Operation; created: boolean }> {
    const ahead = (await this.store.listOperations({ processorName: op.productName, status: ['CREATED', 'RUNNING'], nodeCode: op.nodeCode, limit: 10_000 })).length;
    const result = await this.store.insertOperation(op, opEvent('operation.queued', { position: ahead }));
    if (result.created) {
      this.journaled();
      this.hooks.queued?.(result.operation);
    }
    return result;
  }

  /** The queue's atomic claim (CREATED → RUNNING). */
  async claim(nodeCode: string, owner: string, leaseUntil: number, now: number): Promise<Operation | undefined> {
    const op = await this.store.claimNextOperation(nodeCode, owner, leaseUntil, now, opEvent('operation.running'));
    if (op) {
      this.journaled();
      try {
        this.hooks.started?.(op);
      } catch (err) {
        this.log.error({ err, operationId: op.processObjId }, 'operation start hook failed');
      }
    }
    return op;
  }

  async executionStarted(op: Operation): Promise<Operation | undefined> {
    const t = operationTransitions.executionStarted();
    return this.store.updateOperation(op.processObjId, t.from, t.patch);
  }

  async progress(op: Operation, progressPerc: number): Promise<void> {
    const t = operationTransitions.progress(progressPerc);
    const updated = await this.store.updateOperation(op.processObjId, t.from, t.patch,
      (o) => [draft('operation.progress', o.productName, o.processObjId, { progressPerc })]);
    if (updated) this.journaled();
  }

  async processStarted(op: Operation, pid: number, pidStartTime?: string): Promise<void> {
    const t = operationTransitions.processStarted(pid, pidStartTime);
    await this.store.updateOperation(op.processObjId, t.from, t.patch);
  }

  async recorded(op: Operation, recorded: NonNullable<Operation['recorded']>): Promise<void> {
    const t = operationTransitions.recorded(recorded);
    await this.store.updateOperation(op.processObjId, t.from, t.patch);
  }

  /** A command of a RUNNING operation started or finished. */
  async command(op: Operation, index: number, phase: 'started' | 'finished', detail: { ok?: boolean; error?: OperationError } = {}): Promise<void> {
    await this.store.appendEvents([draft('operation.command', op.productName, op.processObjId, {
      index, count: op.commands.length, command: op.commands[index], phase, ...detail,
    })]);
    this.journaled();
  }

  /** Log lines of a RUNNING operation, stored and published together. */
  async appendLog(op: Pick<Operation, 'processObjId' | 'productName'>, lines: readonly Omit<OperationLogLine, 'seq'>[]): Promise<void> {
    if (lines.length === 0) return;
    await this.store.appendOperationLog(op.processObjId, lines, (stored) => [draft('operation.log', op.productName, op.processObjId, { lines: stored })]);
    this.journaled();
  }

  /** The worker's verdict (RUNNING → DONE | ERROR | STOPPED); undefined when the operation had moved on. */
  async end(op: Operation, status: 'DONE' | 'ERROR' | 'STOPPED', result: { error?: OperationError; appliedCount: number; rollback?: Operation['rollback'] }): Promise<Operation | undefined> {
    const t = operationTransitions.end(op, status, Date.now(), result);
    return this.ended(await this.store.updateOperation(op.processObjId, t.from, t.patch, opEvent('operation.ended')));
  }

  /** A scheduled operation planned anew (CREATED → CREATED): it missed its window's opening, or its window changed. */
  async reschedule(op: Operation, plan: { notBefore: number; notAfter?: number }, reason: string): Promise<Operation | undefined> {
    const t = operationTransitions.reschedule(plan, (op.rescheduled ?? 0) + 1, Date.now());
    const updated = await this.store.updateOperation(op.processObjId, t.from, t.patch, opEvent('operation.rescheduled', { reason }));
    if (updated) this.journaled();
    return updated;
  }

  /** A scheduled operation that can no longer be planned (its window is gone or never opens again): it ends STOPPED. */
  async unschedulable(op: Operation, code: string, message: string): Promise<Operation | undefined> {
    const t = operationTransitions.unschedulable(code, message, Date.now());
    return this.ended(await this.store.updateOperation(op.processObjId, t.from, t.patch, opEvent('operation.ended')));
  }

  /** A queued operation cancelled before it started (CREATED → STOPPED). */
  async cancelQueued(op: Operation, by: string): Promise<Operation | undefined> {
    const t = operationTransitions.cancelQueued(by, Date.now());
    return this.ended(await this.store.updateOperation(op.processObjId, t.from, t.patch, opEvent('operation.ended')));
  }

  /** A cancel of a RUNNING operation, for its worker to carry out. */
  async cancelRequested(op: Operation): Promise<Operation | undefined> {
    const t = operationTransitions.cancelRequested();
    const updated = await this.store.updateOperation(op.processObjId, t.from, t.patch, opEvent('operation.cancelRequested'));
    if (updated) this.journaled();
    return updated;
  }

  /** A lost operation that had not started: queued again (RUNNING → CREATED). */
  async requeueLost(op: Operation): Promise<Operation | undefined> {
    const t = operationTransitions.requeueLost(Date.now());
    const updated = await this.store.updateOperation(op.processObjId, t.from, t.patch, opEvent('operation.requeued'));
    if (updated) this.journaled();
    return updated;
  }

  /** A lost operation whose commands had started (RUNNING → ERROR INTERRUPTED). */
  async failLost(op: Operation): Promise<Operation | undefined> {
    const t = operationTransitions.failLost(op, Date.now());
    return this.ended(await this.store.updateOperation(op.processObjId, t.from, t.patch, opEvent('operation.ended')));
  }

  /** Main node: new deliveries of an operation, one per compute node. */
  async createDeliveries(deliveries: readonly Delivery[]): Promise<void> {
    await this.store.insertDeliveries(deliveries, (inserted) => inserted.map(deliveryEvent));
    this.journaled();
  }

  /** Main node: applies a delivery transition; answers the delivery, or undefined when its state had moved on. */
  async moveDelivery(d: Pick<Delivery, 'operationId' | 'nodeCode'>, t: DeliveryTransition): Promise<Delivery | undefined> {
    const quiet = t.from.length === 1 && t.from[0] === t.to && t.patch.attempts === undefined;
    const updated = await this.store.updateDelivery(d.operationId, d.nodeCode, t.from, t.patch, quiet ? undefined : (x) => [deliveryEvent(x)]);
    if (updated && !quiet) this.journaled();
    return updated;
  }

  /** The processor's packagesInfo.json changed: after an operation, or by another hand as the watcher saw it. */
  async packagesChanged(processor: string, source: 'operation' | 'disk', operationId?: string): Promise<void> {
    await this.store.appendEvents([draft('packages.changed', processor, operationId, { source })]);
    this.journaled();
  }

  /**
   * A package set seen for a processor: stored as its next generation with its event, unless its newest generation
   * has the same hash (then nothing is written and that one is answered, `created: false`). The first generation
   * procenv records of a processor it found as it was ('first-seen') has no event: it tells of no change, and it may
   * be recorded at any moment after start (when something first needs it).
   */
  async recordGeneration(generation: GenerationDraft): Promise<{ generation: GenerationSummary; created: boolean }> {
    const emit = generation.cause === 'first-seen' ? undefined
      : (g: GenerationSummary) => [draft('generation.recorded', g.processorName, g.operationId, { generation: g }, g.at)];
    const result = await this.store.saveGeneration(generation, emit);
    if (result.created && emit) this.journaled();
    return result;
  }
}

function deliveryEvent(d: Delivery): EventDraft {
  return draft('delivery.changed', d.processorName, d.operationId, {
    nodeCode: d.nodeCode, state: d.state, attempts: d.attempts, ...(d.lastError ? { lastError: d.lastError } : {}),
    ...(d.remoteOperationId ? { remoteOperationId: d.remoteOperationId } : {}),
  }, d.updatedAt);
}
