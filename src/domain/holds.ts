import { packageKey } from './generations.ts';
import type { ManagerKind } from './processor.ts';

/**
 * A hold: a package of one processor that no change may upgrade, downgrade or remove (Landscape's hold, TrueOS's
 * lock). Kept on the main node; compute nodes follow the main node's holds.
 */
export interface Hold {
  processorName: string;
  /** As the caller spelt it. */
  package: string;
  /** The package's identity (pip: PEP 503 normalised), unique per processor. */
  key: string;
  reason: string;
  userId: string;
  /** ms since the epoch */
  createdAt: number;
  /** The version installed when the hold was placed, when it was installed. */
  version?: string;
}

export function holdKey(kind: ManagerKind, name: string): string {
  return packageKey(kind, name.replace(/\[.*\]$/, ''));
}

export const MAX_HOLD_REASON = 500;
