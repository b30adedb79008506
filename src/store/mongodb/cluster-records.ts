import { randomUUID } from 'node:crypto';
import { MongoBulkWriteError } from 'mongodb';
import type { Delivery, DeliveryFilter, SyncState } from '../../domain/cluster.ts';
import type { ClusterStore, Emit, Node } from '../types.ts';
import { type Collections, NO_ID, defined, isEmptyUpdate, toNode, toUpdate } from './collections.ts';
import type { MongoEventJournal } from './event-journal.ts';

/**
 * The cluster on MongoDB: WASDI's nodes, and the fan-out's records in procenv's own collections (nodedeliveries,
 * historyepochs, syncstates). Events are journaled after each write.
 */
export class MongoClusterRecords implements ClusterStore {
  constructor(private readonly c: Collections, private readonly journal: MongoEventJournal) {}

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

  async insertDeliveries(deliveries: readonly Delivery[], emit?: Emit<Delivery[]>): Promise<void> {
    const inserted = await this.insertNew(deliveries);
    if (inserted.length) await this.journal.journalEmitted(inserted, emit);
  }

  /** Answers the deliveries that were new (an existing pair is left as it is). */
  private async insertNew(deliveries: readonly Delivery[]): Promise<Delivery[]> {
    if (deliveries.length === 0) return [];
    try {
      // Unordered: a pair that already exists fails alone (E11000) and the others are still inserted.
      await this.c.deliveries.insertMany(deliveries.map((d) => defined({ ...d })), { ordered: false });
      return [...deliveries];
    } catch (err) {
      const writeErrors = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : [];
      if (writeErrors.length === 0 || writeErrors.some((e) => e.code !== 11000)) throw err;
      const refused = new Set(writeErrors.map((e) => e.index));
      return deliveries.filter((_, i) => !refused.has(i));
    }
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Delivery[]> {
    const limit = filter.limit ?? 10_000;
    if (limit <= 0) return [];
    const and: Record<string, unknown>[] = [];
    if (filter.operationId !== undefined) and.push({ operationId: filter.operationId });
    if (filter.nodeCode !== undefined) and.push({ nodeCode: filter.nodeCode });
    if (filter.states !== undefined) and.push({ state: { $in: [...filter.states] } });
    if (filter.dueBefore !== undefined) and.push({ state: 'pending', nextAttemptAt: { $lte: filter.dueBefore } });
    const docs = await this.c.deliveries
      // Oldest first: by createdAt, then insertion order (`_id`, a driver ObjectId).
      .find(and.length > 0 ? { $and: and } : {}, { sort: { createdAt: 1, _id: 1 }, limit, projection: NO_ID })
      .toArray();
    return docs.map(({ _id, ...d }) => d);
  }

  async updateDelivery(operationId: string, nodeCode: string, from: readonly Delivery['state'][], patch: Partial<Delivery>, emit?: Emit<Delivery>): Promise<Delivery | undefined> {
    const { operationId: _o, nodeCode: _n, ...fields } = patch;
    const filter = { operationId, nodeCode, state: { $in: [...from] } };
    const update = toUpdate(fields);
    const updated = isEmptyUpdate(update)
      ? await this.c.deliveries.findOne(filter, { projection: NO_ID })
      : await this.c.deliveries.findOneAndUpdate(filter, update, { returnDocument: 'after', projection: NO_ID });
    if (!updated) return undefined;
    const { _id, ...delivery } = updated;
    await this.journal.journalEmitted(delivery, emit);
    return delivery;
  }

  async findHistoryEpoch(processorName: string): Promise<string> {
    const doc = await this.c.epochs.findOne({ processorName }, { projection: { _id: 0, epoch: 1 } });
    return doc?.epoch ?? '0';
  }

  async newHistoryEpoch(processorName: string): Promise<string> {
    const epoch = randomUUID();
    await this.c.epochs.updateOne({ processorName }, { $set: { processorName, epoch } }, { upsert: true });
    return epoch;
  }

  async findSyncState(processorName: string): Promise<SyncState | undefined> {
    const doc = await this.c.syncStates.findOne({ processorName }, { projection: NO_ID });
    if (!doc) return undefined;
    const { _id, ...state } = doc;
    return state;
  }

  async saveSyncState(state: SyncState): Promise<void> {
    // Replace, not $set: a field the new state lacks (a finished syncOperationId) must go.
    await this.c.syncStates.replaceOne({ processorName: state.processorName }, defined({ ...state }), { upsert: true });
  }
}
