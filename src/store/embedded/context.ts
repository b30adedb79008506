import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { EventDraft } from '../../domain/events.ts';
import { SQLITE_BUSY_TIMEOUT_MS, withBusyRetry } from './busy-retry.ts';
import { StoreFileGuard } from './file-guard.ts';
import { migrate } from './schema.ts';

export interface SqliteStoreOptions {
  /** How long one call waits in all for a store locked by another process (default 5,000 ms). */
  busyWaitMs?: number;
  /** Where a store file deleted or replaced under the service is reported. */
  log?: Logger;
}

/**
 * What the embedded store's parts share: the one connection to the store file (WAL), how a call reads and writes
 * it, and the event journal every write may add to inside its own transaction.
 */
export class SqliteContext {
  readonly db: Database.Database;
  private readonly busyWaitMs: number;
  private readonly guard?: StoreFileGuard;
  private readonly insertEvent: Database.Statement;
  /** Statements built from a filter's shape, prepared once per shape (there are few). */
  private readonly byShape = new Map<string, Database.Statement>();

  constructor(file: string, options: SqliteStoreOptions = {}) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.busyWaitMs = options.busyWaitMs ?? 5_000;
    this.db = new Database(file);
    // Opening (WAL switch, migrations) happens once, before anything is served: it may wait inside SQLite.
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    migrate(this.db);
    // From here on a lock held by another process is waited for between attempts (withBusyRetry), not inside a
    // synchronous call that would stop the event loop: every request would wait with it.
    this.db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    if (file !== ':memory:') this.guard = new StoreFileGuard(file, options.log);
    this.insertEvent = this.db.prepare('INSERT INTO events (at, doc) VALUES (?, ?)');
  }

  /** A read: retried while the store is busy. Reads go on while the store file is missing (nothing is lost). */
  read<T>(step: () => T): Promise<T> {
    return withBusyRetry(step, this.busyWaitMs);
  }

  /** A change: refused while the store file is not the one opened, retried while the store is busy. */
  write<T>(step: () => T): Promise<T> {
    return withBusyRetry(step, this.busyWaitMs, this.guard ? () => this.guard!.assertIntact() : undefined);
  }

  /**
   * A change of several statements, as one write: BEGIN IMMEDIATE takes SQLite's write lock first, so what the
   * step reads is still true when it writes, for every process on the file.
   */
  transaction<T>(step: () => T): Promise<T> {
    return this.write(() => this.db.transaction(step).immediate());
  }

  /** Journals events inside the caller's transaction: a change and its events are stored together or not at all. */
  journal(drafts: readonly EventDraft[] | undefined): void {
    if (!drafts) return;
    for (const d of drafts) this.insertEvent.run(d.at, JSON.stringify(d));
  }

  prepared(sql: string): Database.Statement {
    let stmt = this.byShape.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql).pluck();
      this.byShape.set(sql, stmt);
    }
    return stmt;
  }

  close(): void {
    this.guard?.stop();
    if (this.db.open) this.db.close();
  }
}

export function parse<T>(doc: unknown): T | undefined {
  return typeof doc === 'string' ? (JSON.parse(doc) as T) : undefined;
}

export function parseAll<T>(docs: unknown[]): T[] {
  return docs.map((d) => JSON.parse(d as string) as T);
}
