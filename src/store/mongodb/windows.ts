import type { MaintenanceWindow } from '../../domain/schedules.ts';
import type { WindowStore } from '../types.ts';
import { type Collections, NO_ID } from './collections.ts';

/** Maintenance windows on MongoDB (procenv's own collection `maintenancewindows`), unique by name. */
export class MongoWindows implements WindowStore {
  constructor(private readonly c: Collections) {}

  async saveWindow(window: MaintenanceWindow): Promise<void> {
    // A copy: the driver adds `_id` to a document it inserts.
    await this.c.windows.replaceOne({ name: window.name }, { ...window }, { upsert: true });
  }
  async findWindow(name: string): Promise<MaintenanceWindow | undefined> {
    return (await this.c.windows.findOne({ name }, { projection: NO_ID })) ?? undefined;
  }
  async listWindows(): Promise<MaintenanceWindow[]> {
    return this.c.windows.find({}, { sort: { name: 1 }, projection: NO_ID }).toArray();
  }
  async removeWindow(name: string): Promise<boolean> {
    return (await this.c.windows.deleteOne({ name })).deletedCount > 0;
  }
}
