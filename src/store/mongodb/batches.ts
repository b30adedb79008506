import type { Batch } from '../../domain/batches.ts';
import type { BatchStore } from '../types.ts';
import { type Collections, NO_ID } from './collections.ts';

/** Batches on MongoDB (procenv's own collection `packagebatches`). */
export class MongoBatches implements BatchStore {
  constructor(private readonly c: Collections) {}

  async saveBatch(batch: Batch): Promise<void> {
    await this.c.batches.replaceOne({ batchId: batch.batchId }, { ...batch }, { upsert: true });
  }
  async findBatch(batchId: string): Promise<Batch | undefined> {
    return (await this.c.batches.findOne({ batchId }, { projection: NO_ID })) ?? undefined;
  }
  async listBatches(filter: { userId?: string; limit: number; offset: number }): Promise<Batch[]> {
    return this.c.batches.find(filter.userId === undefined ? {} : { userId: filter.userId }, { sort: { createdAt: -1, batchId: 1 }, skip: filter.offset, limit: filter.limit, projection: NO_ID }).toArray();
  }
}
