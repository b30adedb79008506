import { timingSafeEqual } from 'node:crypto';

/**
 * Node-to-node calls carry the cluster key, the acting user (for the record) and the nodes they passed through
 * (as verdaccio's anti-loop `Via`), plus the main node's operation id so that a resent delivery is recognised.
 */
export const CLUSTER_KEY_HEADER = 'x-procenv-cluster-key';
export const USER_HEADER = 'x-procenv-user';
export const VIA_HEADER = 'x-procenv-via';
export const ORIGIN_OPERATION_HEADER = 'x-procenv-origin-operation';
export const HISTORY_EPOCH_HEADER = 'x-procenv-history-epoch';

export function keysMatch(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function parseVia(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}
