import { timingSafeEqual } from 'node:crypto';
import { requireNodeCode } from '../domain/cluster.ts';
import { InvalidInputError } from '../domain/errors.ts';
import type { RunOptions } from '../domain/operation.ts';

/**
 * Node-to-node calls carry the cluster key, the acting user (for the record) and the nodes they passed through
 * (as verdaccio's anti-loop `Via`), plus the main node's operation id so that a resent delivery is recognised.
 */
export const CLUSTER_KEY_HEADER = 'x-procenv-cluster-key';
export const USER_HEADER = 'x-procenv-user';
export const VIA_HEADER = 'x-procenv-via';
export const ORIGIN_OPERATION_HEADER = 'x-procenv-origin-operation';
export const HISTORY_EPOCH_HEADER = 'x-procenv-history-epoch';
/** How a delivered change runs its commands: `exact` (pins without dependencies), `rollback` (rollbackOnFailure). */
export const RUN_OPTIONS_HEADER = 'x-procenv-run-options';

export function formatRunOptions(options: RunOptions): string {
  return [...(options.exact ? ['exact'] : []), ...(options.rollbackOnFailure ? ['rollback'] : [])].join(',');
}

/** The header's words as options; unknown words are left out (a newer main node may know more). */
export function parseRunOptions(value: string): RunOptions {
  const words = new Set(value.split(',').map((w) => w.trim()));
  return { ...(words.has('exact') ? { exact: true } : {}), ...(words.has('rollback') ? { rollbackOnFailure: true } : {}) };
}

export function keysMatch(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The longest via list taken: a change passes the main node and one compute node; the rest is room. */
const MAX_VIA = 8;

/** The nodes a call passed through; each must be a valid node code (400 INVALID_NODE_CODE otherwise). */
export function parseVia(value: string): string[] {
  const via = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (via.length > MAX_VIA) throw new InvalidInputError('INVALID_VIA', `${VIA_HEADER} names more than ${MAX_VIA} nodes`);
  for (const code of via) requireNodeCode(code, `${VIA_HEADER} entry`);
  return via;
}
