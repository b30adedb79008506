import { eventOf, type EventDraft, type ProcenvEvent } from '../../domain/events.ts';
import type { EventStore } from '../types.ts';
import type { SqliteContext } from './context.ts';

/**
 * The event journal in the embedded store (table events). The writes of the other parts journal their events
 * through `SqliteContext.journal`, inside their own transaction; this part serves the events that no record write
 * carries, the readers, and pruning.
 */
export class SqliteEventJournal implements EventStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      readEvents: db.prepare('SELECT id, doc FROM events WHERE id > ? ORDER BY id LIMIT ?'),
      firstEvent: db.prepare('SELECT MIN(id) FROM events').pluck(),
      lastEvent: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck(),
      pruneEventsByCount: db.prepare('DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)'),
      pruneEventsByAge: db.prepare('DELETE FROM events WHERE at < ?'),
      findCursor: db.prepare('SELECT id FROM eventcursors WHERE name = ?').pluck(),
      saveCursor: db.prepare('INSERT INTO eventcursors (name, id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET id = excluded.id'),
    };
  }

  async appendEvents(drafts: readonly EventDraft[]): Promise<void> {
    if (drafts.length === 0) return;
    await this.ctx.transaction(() => this.ctx.journal(drafts));
  }

  async readEvents(afterId: number, limit: number): Promise<ProcenvEvent[]> {
    return this.ctx.read(() => (this.stmts.readEvents.all(afterId, limit) as { id: number; doc: string }[])
      .map((row) => eventOf(row.id, JSON.parse(row.doc) as EventDraft)));
  }

  async eventBounds(): Promise<{ first: number | undefined; last: number }> {
    return this.ctx.read(() => ({
      first: (this.stmts.firstEvent.get() as number | null) ?? undefined,
      last: (this.stmts.lastEvent.get() as number | undefined) ?? 0,
    }));
  }

  async findEventCursor(name: string): Promise<number | undefined> {
    return this.ctx.read(() => (this.stmts.findCursor.get(name) as number | undefined) ?? undefined);
  }

  async saveEventCursor(name: string, id: number): Promise<void> {
    await this.ctx.transaction(() => this.stmts.saveCursor.run(name, id));
  }

  async pruneEvents(keep: number, olderThan: number): Promise<number> {
    return this.ctx.transaction(() => this.stmts.pruneEventsByCount.run(keep).changes + this.stmts.pruneEventsByAge.run(olderThan).changes);
  }
}
