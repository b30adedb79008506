/**
 * An ENVIRONMENTUPDATE operation, stored as WASDI stores a ProcessWorkspace (`processworkspace`, reference §5.1),
 * plus what procenv adds: the processor id, the commands (several per operation), the error and the key.
 */
export type OperationStatus = 'CREATED' | 'RUNNING' | 'DONE' | 'ERROR' | 'STOPPED';

export const OPERATION_STATUSES: readonly OperationStatus[] = ['CREATED', 'RUNNING', 'DONE', 'ERROR', 'STOPPED'];
export const FINAL_STATUSES: readonly OperationStatus[] = ['DONE', 'ERROR', 'STOPPED'];

export interface OperationError {
  code: string;
  message: string;
}

export interface Operation {
  processObjId: string;
  operationType: 'ENVIRONMENTUPDATE';
  processorId: string;
  /** The processor name (WASDI's field name). */
  productName: string;
  /** The workspace as the caller sent it; procenv has no workspaces (`-` from the web client). */
  workspaceId: string;
  userId: string;
  nodeCode: string;
  status: OperationStatus;
  /** Canonical update commands, run in order; empty means a refresh. */
  commands: string[];
  /** ms since the epoch */
  operationTimestamp: number;
  operationStartTimestamp?: number;
  operationEndTimestamp?: number;
  lastStateChangeTimestamp: number;
  progressPerc: number;
  idempotencyKey?: string;
  error?: OperationError;
  /** Who holds the RUNNING operation (a worker id) and until when (ms); a lapsed lease means the worker died. */
  leaseOwner?: string;
  leaseExpiresAt?: number;
  /** Set just before the first package-manager process starts: a lost operation with it set cannot be re-run blindly. */
  executionStarted?: boolean;
  /** A cancel asked while another process runs the operation; its worker sees it on its next heartbeat. */
  cancelRequested?: boolean;
  durationMs?: number;
  /** The package-manager process running now (WASDI's field), with its start time from /proc, so that a
   *  successor can kill what a crashed worker left running without risking a reused pid. */
  pid?: number;
  pidStartTime?: string;
  /** Compute node: the main node's operation this one was delivered for. */
  origin?: { nodeCode: string; operationId: string };
  /** Compute node: a catch-up operation applying lines [from, to) of the main node's history `epoch`; `origins`
   *  names the main node's operations that wrote those lines, so that their deliveries are not run again. */
  sync?: { epoch: string; from: number; to: number; origins?: string[] };
  /** How many of `commands`, from the first, the package manager applied (set when the operation ends): a batch that
   *  failed halfway says exactly what ran. */
  appliedCount?: number;
  /** Main node: the lines this operation appended to envActionsList.txt, as indexes in history `epoch`. */
  recorded?: { epoch: string; lines: number[] };
  /**
   * The commands are exact pins of a package set (a restore, a rollback): each is installed without its dependencies,
   * so that the environment ends with exactly the versions named, and from the wheel cache first.
   */
  exact?: boolean;
  /** Run only while the environment is still this generation (a plan, a restore); otherwise it ends ERROR STALE_PLAN. */
  expect?: { generation: number; hash: string };
  /** The plan this operation executes, and the generation a restore brings back. */
  planId?: string;
  restoreOf?: number;
  /** Main node: the batch (POST /batches) this operation is one processor's part of. */
  batchId?: string;
  /** When a command fails, bring the environment back to the generation it started from. */
  rollbackOnFailure?: boolean;
  /** What the rollback did: the generation it went back to, the commands it ran, and how it ended. */
  rollback?: { generation: number; commands: string[]; status: 'DONE' | 'ERROR'; error?: OperationError };
  /**
   * A scheduled operation (domain/schedules.ts): its planned start (ms) — no worker claims it before — and, bound to
   * a maintenance window, the close of the opening it is planned in: it never starts from then on, and is moved to
   * the window's next opening instead (`rescheduled` counts the moves). `deliverAfter` and
   * `deliverDelayWindowMinutes` are kept as asked, to plan each move the same way.
   */
  notBefore?: number;
  notAfter?: number;
  window?: string;
  deliverAfter?: number;
  deliverDelayWindowMinutes?: number;
  rescheduled?: number;
}

/** What an operation asks of how its commands run; carried to compute nodes with its commands. */
export interface RunOptions {
  exact?: boolean;
  rollbackOnFailure?: boolean;
}

/** One line of an operation's log: the package manager's output, or procenv's own notes (`procenv`). */
export interface OperationLogLine {
  seq: number;
  /** ms since the epoch */
  t: number;
  stream: 'stdout' | 'stderr' | 'procenv';
  line: string;
}

export function isFinal(status: OperationStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** What the API and the events show of an operation: the stored record without the worker's bookkeeping. */
export type OperationView = Omit<Operation, 'leaseOwner' | 'leaseExpiresAt' | 'executionStarted' | 'cancelRequested'>;

export function viewOf(op: Operation): OperationView {
  const { leaseOwner: _o, leaseExpiresAt: _e, executionStarted: _s, cancelRequested: _c, ...view } = op;
  // The key is stored scoped to its user (`<user>:<key>`, services/operations.ts); the caller's own part is shown.
  if (view.idempotencyKey !== undefined) view.idempotencyKey = view.idempotencyKey.slice(view.idempotencyKey.indexOf(':') + 1);
  return view;
}
