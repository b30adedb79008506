import type { Delivery, DeliveryState } from './cluster.ts';
import type { Operation, OperationError, OperationStatus } from './operation.ts';

/**
 * The operation's state machine: every change of an operation's stored record is one of these transitions. Each
 * answers the statuses it may start from and the patch it applies; the store applies it atomically (compare the
 * status, then write), and the lifecycle component (`lifecycle/lifecycle.ts`) is the only caller.
 *
 *   CREATED ──claim──▶ RUNNING ──end──▶ DONE | ERROR | STOPPED
 *    │ │ ╰─reschedule─╯   │ └──lost (nothing ran)──▶ CREATED
 *    │ └──cancel──▶ STOPPED └──lost (a command ran)──▶ ERROR
 *    └──its window is gone──▶ STOPPED
 *
 * RUNNING also takes updates that keep it RUNNING (progress, the package manager's pid, the history lines it wrote,
 * a cancel asked through another process, the start of execution, a renewed lease).
 */
export interface Transition<S extends string, R> {
  readonly from: readonly S[];
  readonly patch: Partial<R>;
  /** The status the record has afterwards (for the event it publishes). */
  readonly to: S;
}

type OpTransition = Transition<OperationStatus, Operation>;

/** The allowed moves between statuses; anything else is a bug, not a runtime condition. */
export const OPERATION_MOVES: Readonly<Record<OperationStatus, readonly OperationStatus[]>> = {
  CREATED: ['CREATED', 'RUNNING', 'STOPPED'],
  RUNNING: ['RUNNING', 'DONE', 'ERROR', 'STOPPED', 'CREATED'],
  DONE: [],
  ERROR: [],
  STOPPED: [],
};

export function canMove(from: OperationStatus, to: OperationStatus): boolean {
  return OPERATION_MOVES[from].includes(to);
}

function move(from: readonly OperationStatus[], to: OperationStatus, patch: Partial<Operation>): OpTransition {
  for (const f of from) if (!canMove(f, to)) throw new Error(`operation transition ${f} → ${to} is not allowed`);
  return { from, to, patch: { ...patch, status: to } };
}

export const operationTransitions = {
  /** Taken by a worker: RUNNING, held until `leaseUntil`. */
  claim(owner: string, leaseUntil: number, now: number): OpTransition {
    return move(['CREATED'], 'RUNNING', {
      status: 'RUNNING', leaseOwner: owner, leaseExpiresAt: leaseUntil, operationStartTimestamp: now, lastStateChangeTimestamp: now,
    });
  },
  /** Just before the first package-manager process: from here on a lost operation cannot simply run again. */
  executionStarted(): OpTransition {
    return move(['RUNNING'], 'RUNNING', { executionStarted: true });
  },
  progress(progressPerc: number): OpTransition {
    return move(['RUNNING'], 'RUNNING', { progressPerc });
  },
  processStarted(pid: number, pidStartTime?: string): OpTransition {
    return move(['RUNNING'], 'RUNNING', { pid, ...(pidStartTime ? { pidStartTime } : {}) });
  },
  recorded(recorded: NonNullable<Operation['recorded']>): OpTransition {
    return move(['RUNNING'], 'RUNNING', { recorded });
  },
  /** A cancel of a RUNNING operation: its worker (maybe in another process) kills the processes and ends it. */
  cancelRequested(): OpTransition {
    return move(['RUNNING'], 'RUNNING', { cancelRequested: true });
  },
  /** The worker's verdict. */
  end(op: Operation, status: 'DONE' | 'ERROR' | 'STOPPED', now: number, result: { error?: OperationError; appliedCount: number; rollback?: Operation['rollback'] }): OpTransition {
    return move(['RUNNING'], status, {
      operationEndTimestamp: now, lastStateChangeTimestamp: now, durationMs: now - (op.operationStartTimestamp ?? now),
      progressPerc: 100, appliedCount: result.appliedCount, ...(result.error ? { error: result.error } : {}), ...(result.rollback ? { rollback: result.rollback } : {}),
    });
  },
  /** A queued operation cancelled before it started. */
  cancelQueued(by: string, now: number): OpTransition {
    return move(['CREATED'], 'STOPPED', {
      operationEndTimestamp: now, lastStateChangeTimestamp: now, durationMs: 0,
      error: { code: 'CANCELLED', message: `cancelled by ${by} before it started` },
    });
  },
  /** A scheduled operation that missed its window's opening, planned in the next one (stays CREATED). */
  reschedule(plan: { notBefore: number; notAfter?: number }, rescheduled: number, now: number): OpTransition {
    return move(['CREATED'], 'CREATED', { notBefore: plan.notBefore, notAfter: plan.notAfter, rescheduled, lastStateChangeTimestamp: now });
  },
  /** A scheduled operation whose window was deleted, or never opens again: it cannot be planned, and ends. */
  unschedulable(code: string, message: string, now: number): OpTransition {
    return move(['CREATED'], 'STOPPED', { operationEndTimestamp: now, lastStateChangeTimestamp: now, durationMs: 0, error: { code, message } });
  },
  /** Its worker died before any package-manager process started: queued again. */
  requeueLost(now: number): OpTransition {
    return move(['RUNNING'], 'CREATED', { status: 'CREATED', leaseOwner: undefined, leaseExpiresAt: undefined, lastStateChangeTimestamp: now });
  },
  /** Its worker died while a command ran: the environment may be partly changed. */
  failLost(op: Operation, now: number): OpTransition {
    return move(['RUNNING'], 'ERROR', {
      operationEndTimestamp: now, lastStateChangeTimestamp: now, progressPerc: 100, durationMs: now - (op.operationStartTimestamp ?? now),
      error: { code: 'INTERRUPTED', message: 'the worker running this operation stopped (procenv was killed or crashed); the environment may be partly changed: check listPackages and run it again' },
    });
  },
};

type DeliveryTransition = Transition<DeliveryState, Delivery>;

/**
 *   pending ──answered──▶ delivered ──reported──▶ applied | failed
 *      │ ╰─retry─╯  ╰──refused / not there / deadline / node gone──▶ failed | skipped
 *   failed ──a later catch-up applied it──▶ applied
 */
export const DELIVERY_MOVES: Readonly<Record<DeliveryState, readonly DeliveryState[]>> = {
  pending: ['pending', 'delivered', 'applied', 'failed', 'skipped'],
  delivered: ['delivered', 'applied', 'failed'],
  failed: ['applied'],
  applied: [],
  skipped: [],
};

function deliveryMove(from: readonly DeliveryState[], to: DeliveryState, patch: Partial<Delivery>): DeliveryTransition {
  for (const f of from) if (!DELIVERY_MOVES[f].includes(to)) throw new Error(`delivery transition ${f} → ${to} is not allowed`);
  return { from, to, patch: { ...patch, state: to } };
}

export const deliveryTransitions = {
  retry(attempts: number, nextAttemptAt: number, error: string, now: number): DeliveryTransition {
    return deliveryMove(['pending'], 'pending', { attempts, nextAttemptAt, lastError: error, updatedAt: now });
  },
  answered(state: 'delivered' | 'skipped' | 'failed', attempts: number, now: number, detail: { error?: string; remoteOperationId?: string }): DeliveryTransition {
    return deliveryMove(['pending'], state, {
      attempts, updatedAt: now, ...(detail.error ? { lastError: detail.error } : {}), ...(detail.remoteOperationId ? { remoteOperationId: detail.remoteOperationId } : {}),
    });
  },
  /** Not sent: past its deadline, or the node is gone. */
  givenUp(state: 'skipped' | 'failed', error: string, now: number): DeliveryTransition {
    return deliveryMove(['pending'], state, { lastError: error, updatedAt: now });
  },
  /** The compute node's report (or the follow-up's answer) of how its operation ended. */
  reported(status: string, now: number, detail: { remoteOperationId?: string; error?: string }): DeliveryTransition {
    const state = status === 'DONE' ? 'applied' : 'failed';
    // A failed delivery becomes applied when the node applies the change later (a catch-up that covered it).
    const from: DeliveryState[] = state === 'applied' ? ['pending', 'delivered', 'failed'] : ['pending', 'delivered'];
    return deliveryMove(from, state, {
      updatedAt: now, ...(detail.remoteOperationId ? { remoteOperationId: detail.remoteOperationId } : {}),
      ...(state === 'failed' ? { lastError: detail.error ?? `the node's operation ended ${status}` } : {}),
    });
  },
  /** Still running on the node: looked at again later. */
  stillRunning(now: number): DeliveryTransition {
    return deliveryMove(['delivered'], 'delivered', { updatedAt: now });
  },
};
