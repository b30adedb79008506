import type { IgnoreRule } from '../../domain/audit-ignores.ts';
import type { AuditIgnoreStore } from '../types.ts';
import { type Collections, NO_ID } from './collections.ts';

/** Ignore rules of the vulnerability audit on MongoDB (procenv's own collection `auditignores`, unique by id). */
export class MongoAuditIgnores implements AuditIgnoreStore {
  constructor(private readonly c: Collections) {}

  async saveIgnoreRule(rule: IgnoreRule): Promise<void> {
    await this.c.auditIgnores.insertOne({ ...rule });
  }
  async findIgnoreRule(id: string): Promise<IgnoreRule | undefined> {
    return (await this.c.auditIgnores.findOne({ id }, { projection: NO_ID })) ?? undefined;
  }
  async removeIgnoreRule(id: string): Promise<boolean> {
    return (await this.c.auditIgnores.deleteOne({ id })).deletedCount > 0;
  }
  async listIgnoreRules(): Promise<IgnoreRule[]> {
    return this.c.auditIgnores.find({}, { sort: { createdAt: 1, id: 1 }, projection: NO_ID }).toArray();
  }
}
