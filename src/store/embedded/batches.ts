import type { Batch } from '../../domain/batches.ts';
import type { BatchStore } from '../types.ts';
import { type SqliteContext, parse, parseAll } from './context.ts';

/** Batches in the embedded store (table batches), one row each. */
export class SqliteBatches implements BatchStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      save: db.prepare('INSERT INTO batches (batchId, userId, createdAt, doc) VALUES (?, ?, ?, ?) ON CONFLICT (batchId) DO UPDATE SET doc = excluded.doc'),
      find: db.prepare('SELECT doc FROM batches WHERE batchId = ?').pluck(),
      list: db.prepare('SELECT doc FROM batches ORDER BY createdAt DESC, batchId LIMIT ? OFFSET ?').pluck(),
      listOf: db.prepare('SELECT doc FROM batches WHERE userId = ? ORDER BY createdAt DESC, batchId LIMIT ? OFFSET ?').pluck(),
    };
  }

  async saveBatch(batch: Batch): Promise<void> {
    await this.ctx.write(() => this.stmts.save.run(batch.batchId, batch.userId, batch.createdAt, JSON.stringify(batch)));
  }
  async findBatch(batchId: string): Promise<Batch | undefined> {
    return this.ctx.read(() => parse<Batch>(this.stmts.find.get(batchId)));
  }
  async listBatches(filter: { userId?: string; limit: number; offset: number }): Promise<Batch[]> {
    return this.ctx.read(() => parseAll<Batch>(filter.userId === undefined
      ? this.stmts.list.all(filter.limit, filter.offset)
      : this.stmts.listOf.all(filter.userId, filter.limit, filter.offset)));
  }
}
