/**
 * Main node → compute node fan-out (reference §6, done durably): one delivery per operation and compute node,
 * stored before it is sent, retried until accepted or past its deadline, then followed to its result.
 */
export type DeliveryState = 'pending' | 'delivered' | 'applied' | 'failed' | 'skipped';

export interface Delivery {
  operationId: string;
  nodeCode: string;
  processorId: string;
  processorName: string;
  commands: string[];
  userId: string;
  workspaceId: string;
  state: DeliveryState;
  attempts: number;
  /** ms; when the next attempt is due (pending only). */
  nextAttemptAt: number;
  /** ms; a pending delivery past it ends failed. */
  deadlineAt: number;
  createdAt: number;
  updatedAt: number;
  lastError?: string;
  /** The compute node's own operation id, once it accepted the delivery. */
  remoteOperationId?: string;
}

export interface DeliveryFilter {
  operationId?: string;
  nodeCode?: string;
  states?: readonly DeliveryState[];
  /** pending deliveries due at or before this time */
  dueBefore?: number;
  limit?: number;
}

/**
 * A compute node's position in one processor's history on the main node: `applied` lines of history `epoch`
 * (the main node starts a new epoch at each reset).
 */
export interface SyncState {
  processorName: string;
  epoch: string;
  applied: number;
  lastSyncAt?: number;
  lastError?: string;
  /** The catch-up operation in flight, if any. */
  syncOperationId?: string;
  /** The history range that operation covers. */
  syncTarget?: number;
}

/**
 * The main node's history of a processor as a compute node reads it to catch up: envActionsList.txt's lines in
 * history `epoch`, and for lines at or after `from`, the main node's operation that wrote each (when procenv wrote
 * it: a line written by something else has none).
 */
export interface ClusterHistory {
  nodeCode: string;
  epoch: string;
  lines: string[];
  from: number;
  /** index → the main node's operation id */
  origins: Record<number, string>;
}
