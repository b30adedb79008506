import type { MaintenanceWindow } from '../../domain/schedules.ts';
import type { WindowStore } from '../types.ts';
import { type SqliteContext, parse, parseAll } from './context.ts';

/** Maintenance windows in the embedded store (table maintenancewindows), one row per name. */
export class SqliteWindows implements WindowStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      save: db.prepare('INSERT INTO maintenancewindows (name, doc) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc'),
      find: db.prepare('SELECT doc FROM maintenancewindows WHERE name = ?').pluck(),
      list: db.prepare('SELECT doc FROM maintenancewindows ORDER BY name').pluck(),
      remove: db.prepare('DELETE FROM maintenancewindows WHERE name = ?'),
    };
  }

  async saveWindow(window: MaintenanceWindow): Promise<void> {
    await this.ctx.write(() => this.stmts.save.run(window.name, JSON.stringify(window)));
  }
  async findWindow(name: string): Promise<MaintenanceWindow | undefined> {
    return this.ctx.read(() => parse<MaintenanceWindow>(this.stmts.find.get(name)));
  }
  async listWindows(): Promise<MaintenanceWindow[]> {
    return this.ctx.read(() => parseAll<MaintenanceWindow>(this.stmts.list.all()));
  }
  async removeWindow(name: string): Promise<boolean> {
    return this.ctx.write(() => this.stmts.remove.run(name).changes > 0);
  }
}
