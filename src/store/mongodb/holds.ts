import type { Hold } from '../../domain/holds.ts';
import type { HoldStore } from '../types.ts';
import { type Collections, NO_ID } from './collections.ts';

/** Holds on MongoDB (procenv's own collection `packageholds`), unique per processor and package key. */
export class MongoHolds implements HoldStore {
  constructor(private readonly c: Collections) {}

  async saveHold(hold: Hold): Promise<void> {
    await this.c.holds.replaceOne({ processorName: hold.processorName, key: hold.key }, { ...hold }, { upsert: true });
  }
  async removeHold(processorName: string, key: string): Promise<boolean> {
    return (await this.c.holds.deleteOne({ processorName, key })).deletedCount > 0;
  }
  async listHolds(processorName?: string): Promise<Hold[]> {
    return this.c.holds.find(processorName === undefined ? {} : { processorName }, { sort: { processorName: 1, key: 1 }, projection: NO_ID }).toArray();
  }
  /** Without transactions: the holds the main node no longer has go, then each of its holds is written. */
  async replaceHolds(processorName: string, holds: readonly Hold[]): Promise<void> {
    await this.c.holds.deleteMany({ processorName, key: { $nin: holds.map((h) => h.key) } });
    for (const h of holds) await this.saveHold({ ...h, processorName });
  }
}
