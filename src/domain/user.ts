import type { RunOptions } from './operation.ts';
/** WASDI's users, sessions and resource sharings, reduced to what procenv needs (reference §8). */
export interface User {
  userId: string;
  /** WASDI's application role; `ADMIN` may do everything. */
  role: 'ADMIN' | 'USER';
}

export interface Session {
  sessionId: string;
  userId: string;
  /** ms since the epoch */
  loginDate: number;
  /** ms since the epoch; touched when older than a minute, as WASDI does */
  lastTouch: number;
}

export type SharingRight = 'read' | 'write';

/** A row of WASDI's `userresourcepermissions` for a processor. */
export interface Sharing {
  resourceType: 'processor';
  resourceId: string;
  userId: string;
  ownerId: string;
  permissions: SharingRight;
  createdBy: string;
  createdDate: number;
}

/** The authenticated caller of a request. */
export interface Caller {
  userId: string;
  admin: boolean;
  /** A node-to-node call authenticated by the cluster key; `via` lists the nodes it passed through. */
  internal?: { via: string[]; originOperationId?: string; options?: RunOptions };
}
