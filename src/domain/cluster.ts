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
 * (the main node starts a new epoch at each reset). `matched` holds commands this node already applied through
 * deliveries, in order, so that catching up does not run them twice.
 */
export interface SyncState {
  processorName: string;
  epoch: string;
  applied: number;
  matched: string[];
  lastSyncAt?: number;
  lastError?: string;
  /** The catch-up operation in flight, if any. */
  syncOperationId?: string;
  /** The history range that operation covers. */
  syncTarget?: number;
}
