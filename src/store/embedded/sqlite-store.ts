import type Database from 'better-sqlite3';
import { ComposedStore } from '../composed-store.ts';
import { SqliteAccounts } from './accounts.ts';
import { SqliteAuditIgnores } from './audit-ignores.ts';
import { SqliteClusterRecords } from './cluster-records.ts';
import { SqliteContext, type SqliteStoreOptions } from './context.ts';
import { SqliteEventJournal } from './event-journal.ts';
import { SqliteGenerations } from './generations.ts';
import { SqliteBatches } from './batches.ts';
import { SqliteHolds } from './holds.ts';
import { SqliteOperations } from './operations.ts';
import { SqliteProcessors } from './processors.ts';
import { SqliteWindows } from './windows.ts';

export type { SqliteStoreOptions } from './context.ts';

/**
 * The embedded store: one SQLite file (WAL) under the data folder (tables in schema.ts), one part per port over
 * one shared connection (context.ts).
 */
export class SqliteStore extends ComposedStore {
  readonly kind = 'embedded' as const;
  readonly db: Database.Database;
  private readonly ctx: SqliteContext;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    const ctx = new SqliteContext(file, options);
    super({
      accounts: new SqliteAccounts(ctx),
      processors: new SqliteProcessors(ctx),
      operations: new SqliteOperations(ctx),
      cluster: new SqliteClusterRecords(ctx),
      events: new SqliteEventJournal(ctx),
      generations: new SqliteGenerations(ctx),
      holds: new SqliteHolds(ctx),
      batches: new SqliteBatches(ctx),
      windows: new SqliteWindows(ctx),
      auditIgnores: new SqliteAuditIgnores(ctx),
    });
    this.ctx = ctx;
    this.db = ctx.db;
  }

  async close(): Promise<void> {
    this.ctx.close();
  }
}
