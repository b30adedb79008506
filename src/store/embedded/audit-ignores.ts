import type { IgnoreRule } from '../../domain/audit-ignores.ts';
import type { AuditIgnoreStore } from '../types.ts';
import { type SqliteContext, parse, parseAll } from './context.ts';

/** Ignore rules of the vulnerability audit in the embedded store (table auditignores). */
export class SqliteAuditIgnores implements AuditIgnoreStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      save: db.prepare('INSERT INTO auditignores (id, createdAt, doc) VALUES (?, ?, ?)'),
      find: db.prepare('SELECT doc FROM auditignores WHERE id = ?').pluck(),
      remove: db.prepare('DELETE FROM auditignores WHERE id = ?'),
      list: db.prepare('SELECT doc FROM auditignores ORDER BY createdAt, id').pluck(),
    };
  }

  async saveIgnoreRule(rule: IgnoreRule): Promise<void> {
    await this.ctx.write(() => this.stmts.save.run(rule.id, rule.createdAt, JSON.stringify(rule)));
  }
  async findIgnoreRule(id: string): Promise<IgnoreRule | undefined> {
    return this.ctx.read(() => parse<IgnoreRule>(this.stmts.find.get(id)));
  }
  async removeIgnoreRule(id: string): Promise<boolean> {
    return this.ctx.write(() => this.stmts.remove.run(id).changes > 0);
  }
  async listIgnoreRules(): Promise<IgnoreRule[]> {
    return this.ctx.read(() => parseAll<IgnoreRule>(this.stmts.list.all()));
  }
}
