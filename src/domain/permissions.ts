import type { Processor } from './processor.ts';
import type { Caller, Sharing } from './user.ts';

/**
 * WASDI's `canUserAccessProcessor`: public, owner, or shared with any right (reference §8); admins always.
 */
export function canAccess(caller: Caller, processor: Processor, sharing: Sharing | undefined): boolean {
  return caller.admin || processor.isPublic || processor.userId === caller.userId || sharing !== undefined;
}

/** WASDI's `canUserWriteProcessor`: owner, or shared with `write`; admins always. Public is not enough. */
export function canWrite(caller: Caller, processor: Processor, sharing: Sharing | undefined): boolean {
  return caller.admin || processor.userId === caller.userId || sharing?.permissions === 'write';
}
