import { randomUUID } from 'node:crypto';
import type { Filter } from 'mongodb';
import { isFinal, type Operation } from '../../domain/operation.ts';
import { type Collections, type LockDoc, NO_ID, OPERATION_TYPE, isDuplicateKeyError, toOperation, toUpdate } from './collections.ts';

/**
 * The queue's claim on MongoDB, across any number of processes, without transactions.
 *
 * MongoDB makes one document's update atomic, but "the oldest CREATED operation of a processor with nothing
 * RUNNING" spans documents. So each processor has a lock document in `processorlocks` (`_id` = processor name):
 *
 * 1. A claimer inserts the lock naming the candidate. The unique `_id` lets exactly one claimer win per processor.
 * 2. The winner moves the candidate CREATED → RUNNING with a compare-and-set on its status (so an operation that
 *    was cancelled meanwhile is not claimed; the lock is then released and the processor's next one is tried).
 * 3. The lock stays while its operation is RUNNING; `releaseLock` (called by updateOperation when the operation
 *    leaves RUNNING) deletes it. A RUNNING operation whose worker died keeps its processor blocked until the queue
 *    moves it out of RUNNING (listLapsedOperations → updateOperation), exactly as the embedded store behaves.
 *
 * A lock can outlive its purpose only when a process dies between two of these writes. It is then taken over:
 * at once when the operation it names ended or vanished, and after the lock's lease when the operation is still
 * CREATED (the claimer died between steps 1 and 2 — before the lease it may just be slow). A lock naming a RUNNING
 * operation is never taken over. A claimer that stalled past its lease between steps 1 and 2 checks after step 2
 * that its lock is still its own and otherwise puts the operation back, so it never runs beside the taker.
 */
export class OperationClaims {
  constructor(private readonly c: Collections) {}

  async claimNext(nodeCode: string, owner: string, leaseUntil: number, now: number): Promise<Operation | undefined> {
    // Processors whose lock is within its lease are busy: leave their operations to the server-side filter.
    const busy = await this.c.locks.find({ leaseExpiresAt: { $gte: now } }, { projection: { _id: 1 } }).toArray();
    const cursor = this.c.operations.find(
      { operationType: OPERATION_TYPE, status: 'CREATED', nodeCode, productName: { $nin: busy.map((l) => l._id) }, ...startsBy(now) },
      // Oldest first; `_id` (a driver ObjectId) breaks timestamp ties in insertion order.
      { sort: { operationTimestamp: 1, _id: 1 }, projection: NO_ID, batchSize: 100 },
    );
    const skipped = new Set<string>();
    try {
      for await (const doc of cursor) {
        const candidate = toOperation(doc);
        if (skipped.has(candidate.productName)) continue;
        const outcome = await this.tryClaim(candidate, owner, leaseUntil, now);
        if (typeof outcome === 'object') return outcome;
        // 'gone': the candidate left CREATED before we got it; the processor's next operation may still be free.
        if (outcome === 'busy') skipped.add(candidate.productName);
      }
    } finally {
      await cursor.close();
    }
    return undefined;
  }

  private async tryClaim(candidate: Operation, owner: string, leaseUntil: number, now: number): Promise<Operation | 'busy' | 'gone'> {
    const name = candidate.productName;
    const token = randomUUID();
    if (!(await this.acquireLock({ _id: name, processObjId: candidate.processObjId, owner, leaseExpiresAt: leaseUntil, token }, now))) {
      return 'busy';
    }
    // An operation made RUNNING without the lock (inserted so, or patched so) still blocks its processor.
    const running = await this.c.operations.findOne({ operationType: OPERATION_TYPE, productName: name, status: 'RUNNING' }, { projection: { _id: 1 } });
    if (running) {
      await this.c.locks.deleteOne({ _id: name, token });
      return 'busy';
    }
    // The schedule again: the operation may have been moved to a later window since the find.
    const claimed = await this.c.operations.findOneAndUpdate(
      { processObjId: candidate.processObjId, operationType: OPERATION_TYPE, status: 'CREATED', nodeCode: candidate.nodeCode, ...startsBy(now) },
      { $set: { status: 'RUNNING', leaseOwner: owner, leaseExpiresAt: leaseUntil, operationStartTimestamp: now, lastStateChangeTimestamp: now } },
      { returnDocument: 'after', projection: NO_ID },
    );
    if (!claimed) {
      await this.c.locks.deleteOne({ _id: name, token });
      return 'gone';
    }
    if ((await this.c.locks.countDocuments({ _id: name, token }, { limit: 1 })) === 0) {
      // Our lock was taken over while we stalled: put the operation back as it was, someone else holds the processor.
      await this.c.operations.updateOne(
        { processObjId: candidate.processObjId, status: 'RUNNING', leaseOwner: owner, leaseExpiresAt: leaseUntil },
        toUpdate({
          status: 'CREATED', leaseOwner: candidate.leaseOwner, leaseExpiresAt: candidate.leaseExpiresAt,
          operationStartTimestamp: candidate.operationStartTimestamp, lastStateChangeTimestamp: candidate.lastStateChangeTimestamp,
        }),
      );
      return 'busy';
    }
    return toOperation(claimed);
  }

  /** Inserts the lock, or takes over a stale one; false when the processor is held. */
  private async acquireLock(lock: LockDoc, now: number): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.c.locks.insertOne({ ...lock });
        return true;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
      }
      const held = await this.c.locks.findOne({ _id: lock._id });
      if (!held) continue; // released between our insert and our read: try again
      if (!(await this.isStale(held, now))) return false;
      const { _id, ...replacement } = lock;
      // Replace only the acquisition we judged stale (its token), so two takers cannot both win.
      const taken = await this.c.locks.replaceOne({ _id, token: held.token }, replacement);
      return taken.matchedCount === 1;
    }
    return false;
  }

  private async isStale(lock: LockDoc, now: number): Promise<boolean> {
    const holder = await this.c.operations.findOne({ processObjId: lock.processObjId }, { projection: { _id: 0, status: 1 } });
    if (!holder || isFinal(holder.status)) return true;
    if (holder.status === 'RUNNING') return false;
    return lock.leaseExpiresAt < now;
  }

  /** Called once an operation left RUNNING: frees its processor, if the lock still names it. */
  async releaseLock(operation: Pick<Operation, 'productName' | 'processObjId'>): Promise<void> {
    await this.c.locks.deleteOne({ _id: operation.productName, processObjId: operation.processObjId });
  }

  async renewLeases(processObjIds: readonly string[], owner: string, leaseUntil: number): Promise<void> {
    if (processObjIds.length === 0) return;
    const ids = [...processObjIds];
    await this.c.operations.updateMany(
      { processObjId: { $in: ids }, operationType: OPERATION_TYPE, status: 'RUNNING', leaseOwner: owner },
      { $set: { leaseExpiresAt: leaseUntil } },
    );
    // Keeps the processor's lock out of the stale candidates' way (claimNext's `busy` filter).
    await this.c.locks.updateMany({ processObjId: { $in: ids }, owner }, { $set: { leaseExpiresAt: leaseUntil } });
  }

  async listMissed(nodeCode: string, now: number, limit: number): Promise<Operation[]> {
    if (limit <= 0) return [];
    const docs = await this.c.operations
      .find({ operationType: OPERATION_TYPE, status: 'CREATED', nodeCode, notAfter: { $lte: now } }, { sort: { operationTimestamp: 1, _id: 1 }, limit, projection: NO_ID })
      .toArray();
    return docs.map(toOperation);
  }

  async listLapsed(nodeCode: string, now: number): Promise<Operation[]> {
    const docs = await this.c.operations
      .find({ operationType: OPERATION_TYPE, status: 'RUNNING', nodeCode, leaseExpiresAt: { $lt: now } }, { sort: { operationTimestamp: 1, _id: 1 }, projection: NO_ID })
      .toArray();
    return docs.map(toOperation);
  }
}

/**
 * The schedule part of a claim's filter, as the embedded store's: no `notBefore` after `now`, no `notAfter` at or
 * before it. Operations without a schedule have neither field (an undefined field is never written, see mongo-store.ts).
 */
function startsBy(now: number): Filter<Operation> {
  return {
    $and: [
      { $or: [{ notBefore: { $exists: false } }, { notBefore: { $lte: now } }] },
      { $or: [{ notAfter: { $exists: false } }, { notAfter: { $gt: now } }] },
    ],
  };
}
