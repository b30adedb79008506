import type { Hold } from '../../domain/holds.ts';
import type { HoldStore } from '../types.ts';
import { type SqliteContext, parseAll } from './context.ts';

/** Holds in the embedded store (table holds), one row per processor and package key. */
export class SqliteHolds implements HoldStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      save: db.prepare('INSERT INTO holds (processorName, key, doc) VALUES (?, ?, ?) ON CONFLICT (processorName, key) DO UPDATE SET doc = excluded.doc'),
      remove: db.prepare('DELETE FROM holds WHERE processorName = ? AND key = ?'),
      removeAll: db.prepare('DELETE FROM holds WHERE processorName = ?'),
      list: db.prepare('SELECT doc FROM holds WHERE processorName = ? ORDER BY key').pluck(),
      listAll: db.prepare('SELECT doc FROM holds ORDER BY processorName, key').pluck(),
    };
  }

  async saveHold(hold: Hold): Promise<void> {
    await this.ctx.write(() => this.stmts.save.run(hold.processorName, hold.key, JSON.stringify(hold)));
  }
  async removeHold(processorName: string, key: string): Promise<boolean> {
    return this.ctx.write(() => this.stmts.remove.run(processorName, key).changes > 0);
  }
  async listHolds(processorName?: string): Promise<Hold[]> {
    return this.ctx.read(() => parseAll<Hold>(processorName === undefined ? this.stmts.listAll.all() : this.stmts.list.all(processorName)));
  }
  async replaceHolds(processorName: string, holds: readonly Hold[]): Promise<void> {
    await this.ctx.transaction(() => {
      this.stmts.removeAll.run(processorName);
      for (const h of holds) this.stmts.save.run(processorName, h.key, JSON.stringify({ ...h, processorName }));
    });
  }
}
