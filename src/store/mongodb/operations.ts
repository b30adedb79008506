import { ConflictError } from '../../domain/errors.ts';
import type { Operation, OperationLogLine, OperationStatus } from '../../domain/operation.ts';
import type { Emit, OperationFilter, OperationStore } from '../types.ts';
import {
  type Collections, NO_ID, OPERATION_TYPE, defined, isDuplicateKeyError, isEmptyUpdate, toOperation, toUpdate,
} from './collections.ts';
import type { MongoEventJournal } from './event-journal.ts';
import { OperationClaims } from './operation-claims.ts';

/**
 * ENVIRONMENTUPDATE operations in WASDI's processworkspace, and their logs in procenv's operationlogs and
 * operationlogcounters. The queue's claims are in operation-claims.ts; events are journaled after each write.
 */
export class MongoOperations implements OperationStore {
  private readonly claims: OperationClaims;

  constructor(private readonly c: Collections, private readonly journal: MongoEventJournal) {
    this.claims = new OperationClaims(c);
  }

  async insertOperation(operation: Operation, emit?: Emit<Operation>): Promise<{ operation: Operation; created: boolean }> {
    const key = operation.idempotencyKey;
    if (key !== undefined) {
      const earlier = await this.findOperationByKey(key);
      if (earlier) return { operation: earlier, created: false };
    }
    try {
      // A copy: insertOne adds `_id` to the object it is given.
      await this.c.operations.insertOne(defined({ ...operation }));
      await this.journal.journalEmitted(operation, emit);
      return { operation, created: true };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      // The unique key index makes a concurrent insert with the same key lose here: answer the winner.
      const winner = key === undefined ? undefined : await this.findOperationByKey(key);
      if (winner) return { operation: winner, created: false };
      throw new ConflictError('OPERATION_EXISTS', `operation ${operation.processObjId} already exists`, { cause: err });
    }
  }
  private async findOperationByKey(idempotencyKey: string): Promise<Operation | undefined> {
    const doc = await this.c.operations.findOne({ idempotencyKey, operationType: OPERATION_TYPE }, { projection: NO_ID });
    return doc ? toOperation(doc) : undefined;
  }
  async findOperation(processObjId: string): Promise<Operation | undefined> {
    const doc = await this.c.operations.findOne({ processObjId, operationType: OPERATION_TYPE }, { projection: NO_ID });
    return doc ? toOperation(doc) : undefined;
  }
  async listOperations(filter: OperationFilter): Promise<Operation[]> {
    const limit = filter.limit ?? 100;
    // Mongo reads limit 0 as "no limit"; the port means none.
    if (limit <= 0) return [];
    const query: Record<string, unknown> = { operationType: OPERATION_TYPE };
    if (filter.processorName !== undefined) query.productName = filter.processorName;
    if (filter.status !== undefined) query.status = typeof filter.status === 'string' ? filter.status : { $in: [...filter.status] };
    if (filter.userId !== undefined) query.userId = filter.userId;
    if (filter.nodeCode !== undefined) query.nodeCode = filter.nodeCode;
    if (filter.window !== undefined) query.window = filter.window;
    if (filter.since !== undefined || filter.until !== undefined) {
      query.operationTimestamp = defined({ $gte: filter.since, $lte: filter.until });
    }
    const docs = await this.c.operations
      .find(query, { sort: { operationTimestamp: -1, _id: -1 }, skip: filter.offset ?? 0, limit, projection: NO_ID })
      .toArray();
    return docs.map(toOperation);
  }
  async updateOperation(processObjId: string, from: readonly OperationStatus[], patch: Partial<Operation>, emit?: Emit<Operation>): Promise<Operation | undefined> {
    const { processObjId: _ignored, ...fields } = patch;
    const filter = { processObjId, operationType: OPERATION_TYPE, status: { $in: [...from] } };
    const update = toUpdate(fields);
    const updated = isEmptyUpdate(update)
      ? await this.c.operations.findOne(filter, { projection: NO_ID })
      : await this.c.operations.findOneAndUpdate(filter, update, { returnDocument: 'after', projection: NO_ID });
    if (!updated) return undefined;
    const operation = toOperation(updated);
    if (operation.status !== 'RUNNING' && from.includes('RUNNING')) await this.claims.releaseLock(operation);
    await this.journal.journalEmitted(operation, emit);
    return operation;
  }

  async claimNextOperation(nodeCode: string, owner: string, leaseUntil: number, now: number, emit?: Emit<Operation>): Promise<Operation | undefined> {
    const claimed = await this.claims.claimNext(nodeCode, owner, leaseUntil, now);
    await this.journal.journalEmitted(claimed, emit);
    return claimed;
  }
  renewLeases(processObjIds: readonly string[], owner: string, leaseUntil: number): Promise<void> {
    return this.claims.renewLeases(processObjIds, owner, leaseUntil);
  }
  listLapsedOperations(nodeCode: string, now: number): Promise<Operation[]> {
    return this.claims.listLapsed(nodeCode, now);
  }
  listMissedOperations(nodeCode: string, now: number, limit: number): Promise<Operation[]> {
    return this.claims.listMissed(nodeCode, now, limit);
  }

  async appendOperationLog(processObjId: string, lines: readonly Omit<OperationLogLine, 'seq'>[], emit?: Emit<OperationLogLine[]>): Promise<void> {
    if (lines.length === 0) return;
    // One $inc reserves a block of seq numbers atomically, so concurrent appends never share a number.
    let counter;
    for (let attempt = 0; ; attempt++) {
      try {
        counter = await this.c.logCounters.findOneAndUpdate(
          { _id: processObjId }, { $inc: { seq: lines.length } }, { upsert: true, returnDocument: 'after' },
        );
        break;
      } catch (err) {
        // Two first appends may race on the upsert; the loser's retry increments the inserted counter.
        if (!isDuplicateKeyError(err) || attempt >= 2) throw err;
      }
    }
    if (!counter) throw new Error(`no log counter for operation ${processObjId}`);
    const first = counter.seq - lines.length + 1;
    const stored = lines.map((l, i) => ({ seq: first + i, t: l.t, stream: l.stream, line: l.line }));
    await this.c.logs.insertMany(stored.map((l) => ({ processObjId, ...l })));
    await this.journal.journalEmitted(stored, emit);
  }
  async readOperationLog(processObjId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<OperationLogLine[]> {
    const limit = options.limit ?? 10_000;
    if (limit <= 0) return [];
    const docs = await this.c.logs
      .find({ processObjId, seq: { $gt: options.afterSeq ?? 0 } }, { sort: { seq: 1 }, limit, projection: { _id: 0, seq: 1, t: 1, stream: 1, line: 1 } })
      .toArray();
    return docs.map((d) => ({ seq: d.seq, t: d.t, stream: d.stream, line: d.line }));
  }
}
