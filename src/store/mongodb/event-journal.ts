import { eventOf, type EventDraft, type ProcenvEvent } from '../../domain/events.ts';
import type { Emit, EventStore } from '../types.ts';
import type { Collections } from './collections.ts';

/**
 * The event journal on MongoDB (procenv's own collections `events` and `eventcounters`). An id comes from one
 * `$inc` on a counter, so ids never repeat across processes; a block of ids is reserved per append. Without
 * transactions an event is journaled right after the write it reports (so a write whose events cannot be built or
 * journaled is kept without them), and two processes may commit their ids out of order: the reader
 * (`events/hub.ts`) waits a moment at a gap before it passes over it.
 */
export class MongoEventJournal implements EventStore {
  constructor(private readonly c: Collections) {}

  /** Journals what a write emits, after the write: the other parts call it once their write is done. */
  async journalEmitted<T>(written: T | undefined, emit: Emit<T> | undefined): Promise<void> {
    if (written !== undefined && emit) await this.appendEvents(emit(written));
  }

  async appendEvents(drafts: readonly EventDraft[]): Promise<void> {
    if (drafts.length === 0) return;
    const counter = await this.c.eventCounters.findOneAndUpdate(
      { _id: 'events' }, { $inc: { seq: drafts.length } }, { upsert: true, returnDocument: 'after' },
    );
    if (!counter) throw new Error('no event counter');
    const first = counter.seq - drafts.length + 1;
    await this.c.events.insertMany(drafts.map((d, i) => ({ _id: first + i, at: d.at, draft: d })));
  }

  async readEvents(afterId: number, limit: number): Promise<ProcenvEvent[]> {
    if (limit <= 0) return [];
    const docs = await this.c.events.find({ _id: { $gt: afterId } }, { sort: { _id: 1 }, limit }).toArray();
    return docs.map((d) => eventOf(d._id, d.draft));
  }

  async eventBounds(): Promise<{ first: number | undefined; last: number }> {
    const [oldest] = await this.c.events.find({}, { sort: { _id: 1 }, limit: 1, projection: { _id: 1 } }).toArray();
    const counter = await this.c.eventCounters.findOne({ _id: 'events' });
    return { first: oldest?._id, last: counter?.seq ?? 0 };
  }

  async pruneEvents(keep: number, olderThan: number): Promise<number> {
    let removed = (await this.c.events.deleteMany({ at: { $lt: olderThan } })).deletedCount;
    const [boundary] = await this.c.events.find({}, { sort: { _id: -1 }, skip: keep, limit: 1, projection: { _id: 1 } }).toArray();
    if (boundary) removed += (await this.c.events.deleteMany({ _id: { $lte: boundary._id } })).deletedCount;
    return removed;
  }

  async findEventCursor(name: string): Promise<number | undefined> {
    return (await this.c.eventCursors.findOne({ _id: name }))?.seq;
  }

  async saveEventCursor(name: string, id: number): Promise<void> {
    await this.c.eventCursors.updateOne({ _id: name }, { $set: { seq: id } }, { upsert: true });
  }
}
