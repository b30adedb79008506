import type { Hold } from './holds.ts';
import type { RunOptions } from './operation.ts';
import { InvalidInputError } from './errors.ts';

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
  /** How the commands run: exact pins (a restore), a rollback when one fails. */
  options?: RunOptions;
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
  /** The history index of each command of that operation, in order (lines that do not parse are left out). */
  syncLines?: number[];
  /** Lines of this epoch passed over because they are not valid update commands: they are never run. */
  skipped?: SkippedLine[];
  /** The line the last catch-up could not apply; it is tried again at `retryAt`, with exponential backoff. */
  failing?: FailingLine;
}

export interface SkippedLine {
  index: number;
  line: string;
  reason: string;
}

export interface FailingLine {
  index: number;
  line: string;
  /** The package manager's (or procenv's) message. */
  message: string;
  /** Failed catch-ups in a row at this line. */
  attempts: number;
  /** ms; when the next catch-up may start. */
  retryAt: number;
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
  /** The processor's holds on the main node, which compute nodes follow. */
  holds?: Hold[];
}

/** Node codes, checked like every other name: they travel in URLs, headers (`x-procenv-via`, comma separated) and logs. */
const NODE_CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isValidNodeCode(code: string): boolean {
  return NODE_CODE.test(code);
}

/** Throws INVALID_NODE_CODE unless `code` is a valid node code; the message quotes at most 80 characters of it. */
export function requireNodeCode(code: string, what = 'node code'): string {
  if (!isValidNodeCode(code)) {
    throw new InvalidInputError('INVALID_NODE_CODE', `${what} "${code.slice(0, 80)}" is not valid: 1 to 64 letters, digits, "_" or "-", starting with a letter or digit`);
  }
  return code;
}

/**
 * Text with the userinfo of every URL in it removed (`http://user:pass@host/` → `http://host/`). A node's base
 * address may carry credentials for a proxy in front of it; they must never reach an answer or a log, and peer
 * errors may quote the address.
 */
export function withoutCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi, '$1');
}
