import { MongoClient, type Db } from 'mongodb';
import type { Delivery, DeliveryFilter, SyncState } from '../../domain/cluster.ts';
import { ConflictError } from '../../domain/errors.ts';
import type { Operation, OperationLogLine, OperationStatus } from '../../domain/operation.ts';
import type { Processor } from '../../domain/processor.ts';
import type { Session, Sharing, User } from '../../domain/user.ts';
import type { EventDraft, ProcenvEvent } from '../../domain/events.ts';
import type { Emit, Node, OperationFilter, Store } from '../types.ts';
import { EventJournal } from './event-journal.ts';
import {
  type Collections, NO_ID, OPERATION_TYPE, collectionsOf, defined, ensureIndexes, fromProcessor, isDuplicateKeyError,
  isEmptyUpdate, toNode, toOperation, toProcessor, toSession, toSharing, toUpdate, toUser,
} from './collections.ts';
import { ClusterRecords } from './cluster-records.ts';
import { OperationClaims } from './operation-claims.ts';
import { withUnavailableErrors } from './unavailable.ts';

/**
 * The MongoDB store: WASDI's own collections (users, sessions, processors, userresourcepermissions, nodes,
 * processworkspace) plus procenv's own: operationlogs, operationlogcounters, processorlocks (operation-claims.ts),
 * nodedeliveries, historyepochs, syncstates (cluster-records.ts). It is the adapter a WASDI installation shares with
 * procenv, and the one several procenv processes can share among themselves. It needs no transactions (so a
 * standalone server does), only single-document atomicity and unique indexes.
 */
export class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  private readonly c: Collections;
  private readonly claims: OperationClaims;
  private readonly cluster: ClusterRecords;
  private readonly journal: EventJournal;

  private constructor(private readonly client: MongoClient, readonly db: Db) {
    this.c = collectionsOf(db);
    this.claims = new OperationClaims(this.c);
    this.cluster = new ClusterRecords(this.c);
    this.journal = new EventJournal(this.c);
  }

  /** Connects, creates the indexes the adapter relies on (idempotent), and answers the store. */
  static async connect(url: string, dbName: string): Promise<MongoStore> {
    if (!url) throw new Error('the mongodb store needs a connection string (MONGODB_URL)');
    // ignoreUndefined: an absent optional field must stay absent, never become null (the sparse key index needs it).
    const client = new MongoClient(url, { ignoreUndefined: true });
    try {
      await client.connect();
      const store = new MongoStore(client, client.db(dbName));
      await ensureIndexes(store.c);
      return withUnavailableErrors(store);
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
  }

  async saveUser(user: User): Promise<void> {
    await this.c.users.updateOne({ userId: user.userId }, { $set: { userId: user.userId, role: user.role } }, { upsert: true });
  }
  async findUser(userId: string): Promise<User | undefined> {
    const doc = await this.c.users.findOne({ userId }, { projection: { _id: 0, userId: 1, role: 1 } });
    return doc ? toUser(doc) : undefined;
  }

  async saveSession(session: Session): Promise<void> {
    const { sessionId, userId, loginDate, lastTouch } = session;
    await this.c.sessions.updateOne({ sessionId }, { $set: { sessionId, userId, loginDate, lastTouch } }, { upsert: true });
  }
  async findSession(sessionId: string): Promise<Session | undefined> {
    const doc = await this.c.sessions.findOne({ sessionId }, { projection: NO_ID });
    return doc ? toSession(doc) : undefined;
  }
  async touchSession(sessionId: string, at: number): Promise<void> {
    await this.c.sessions.updateOne({ sessionId }, { $set: { lastTouch: at } });
  }
  async removeSession(sessionId: string): Promise<void> {
    await this.c.sessions.deleteOne({ sessionId });
  }

  async saveProcessor(processor: Processor): Promise<void> {
    const doc = fromProcessor(processor);
    // $set keeps the fields WASDI has and procenv does not know; the optional fields procenv owns are cleared.
    const update = toUpdate({ ...doc, python: doc.python, source: doc.source });
    for (let attempt = 0; ; attempt++) {
      try {
        await this.c.processors.updateOne({ processorId: processor.processorId }, update, { upsert: true });
        return;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        const holder = await this.c.processors.findOne({ name: processor.name }, { projection: { _id: 0, processorId: 1 } });
        if (holder && holder.processorId !== processor.processorId) {
          throw new ConflictError('PROCESSOR_NAME_TAKEN', `processor name "${processor.name}" is already registered by another processorId`, { cause: err });
        }
        // Two upserts of the same new processorId raced: the retry finds the inserted document and updates it.
        if (attempt >= 2) throw err;
      }
    }
  }
  async findProcessorById(processorId: string): Promise<Processor | undefined> {
    const doc = await this.c.processors.findOne({ processorId }, { projection: NO_ID });
    return doc ? toProcessor(doc) : undefined;
  }
  async findProcessorByName(name: string): Promise<Processor | undefined> {
    const doc = await this.c.processors.findOne({ name }, { projection: NO_ID });
    return doc ? toProcessor(doc) : undefined;
  }
  async listProcessors(): Promise<Processor[]> {
    const docs = await this.c.processors.find({}, { sort: { name: 1 }, projection: NO_ID }).toArray();
    return docs.map(toProcessor);
  }
  async removeProcessor(processorId: string): Promise<void> {
    await this.c.processors.deleteOne({ processorId });
  }

  async saveSharing(sharing: Sharing): Promise<void> {
    const { resourceType, resourceId, userId } = sharing;
    await this.c.sharings.updateOne({ resourceType, resourceId, userId }, { $set: { ...sharing } }, { upsert: true });
  }
  async findSharing(resourceId: string, userId: string): Promise<Sharing | undefined> {
    const doc = await this.c.sharings.findOne({ resourceType: 'processor', resourceId, userId }, { projection: NO_ID });
    return doc ? toSharing(doc) : undefined;
  }
  async listSharings(resourceId: string): Promise<Sharing[]> {
    const docs = await this.c.sharings.find({ resourceType: 'processor', resourceId }, { sort: { userId: 1 }, projection: NO_ID }).toArray();
    return docs.map(toSharing);
  }

  async saveNode(node: Node): Promise<void> {
    const update = toUpdate({ ...node, nodeDescription: node.nodeDescription });
    await this.c.nodes.updateOne({ nodeCode: node.nodeCode }, update, { upsert: true });
  }
  async findNode(nodeCode: string): Promise<Node | undefined> {
    const doc = await this.c.nodes.findOne({ nodeCode }, { projection: NO_ID });
    return doc ? toNode(doc) : undefined;
  }
  async listNodes(): Promise<Node[]> {
    const docs = await this.c.nodes.find({}, { sort: { nodeCode: 1 }, projection: NO_ID }).toArray();
    return docs.map(toNode);
  }

  /** Journals what a write emits, after the write (no transactions on MongoDB: see event-journal.ts). */
  private async emitted<T>(written: T | undefined, emit: Emit<T> | undefined): Promise<void> {
    if (written !== undefined && emit) await this.journal.append(emit(written));
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
      await this.emitted(operation, emit);
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
    await this.emitted(operation, emit);
    return operation;
  }

  async claimNextOperation(nodeCode: string, owner: string, leaseUntil: number, now: number, emit?: Emit<Operation>): Promise<Operation | undefined> {
    const claimed = await this.claims.claimNext(nodeCode, owner, leaseUntil, now);
    await this.emitted(claimed, emit);
    return claimed;
  }
  renewLeases(processObjIds: readonly string[], owner: string, leaseUntil: number): Promise<void> {
    return this.claims.renewLeases(processObjIds, owner, leaseUntil);
  }
  listLapsedOperations(nodeCode: string, now: number): Promise<Operation[]> {
    return this.claims.listLapsed(nodeCode, now);
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
    await this.emitted(stored, emit);
  }
  async readOperationLog(processObjId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<OperationLogLine[]> {
    const limit = options.limit ?? 10_000;
    if (limit <= 0) return [];
    const docs = await this.c.logs
      .find({ processObjId, seq: { $gt: options.afterSeq ?? 0 } }, { sort: { seq: 1 }, limit, projection: { _id: 0, seq: 1, t: 1, stream: 1, line: 1 } })
      .toArray();
    return docs.map((d) => ({ seq: d.seq, t: d.t, stream: d.stream, line: d.line }));
  }

  async insertDeliveries(deliveries: readonly Delivery[], emit?: Emit<Delivery[]>): Promise<void> {
    const inserted = await this.cluster.insertDeliveries(deliveries);
    if (inserted.length) await this.emitted(inserted, emit);
  }
  listDeliveries(filter: DeliveryFilter): Promise<Delivery[]> {
    return this.cluster.listDeliveries(filter);
  }
  async updateDelivery(operationId: string, nodeCode: string, from: readonly Delivery['state'][], patch: Partial<Delivery>, emit?: Emit<Delivery>): Promise<Delivery | undefined> {
    const updated = await this.cluster.updateDelivery(operationId, nodeCode, from, patch);
    await this.emitted(updated, emit);
    return updated;
  }
  findHistoryEpoch(processorName: string): Promise<string> {
    return this.cluster.findHistoryEpoch(processorName);
  }
  newHistoryEpoch(processorName: string): Promise<string> {
    return this.cluster.newHistoryEpoch(processorName);
  }
  findSyncState(processorName: string): Promise<SyncState | undefined> {
    return this.cluster.findSyncState(processorName);
  }
  saveSyncState(state: SyncState): Promise<void> {
    return this.cluster.saveSyncState(state);
  }

  appendEvents(drafts: readonly EventDraft[]): Promise<void> {
    return this.journal.append(drafts);
  }
  readEvents(afterId: number, limit: number): Promise<ProcenvEvent[]> {
    return this.journal.read(afterId, limit);
  }
  eventBounds(): Promise<{ first: number | undefined; last: number }> {
    return this.journal.bounds();
  }
  pruneEvents(keep: number, olderThan: number): Promise<number> {
    return this.journal.prune(keep, olderThan);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
