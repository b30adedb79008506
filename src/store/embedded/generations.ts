import type { Generation, GenerationDraft, GenerationPackage, GenerationSummary } from '../../domain/generations.ts';
import {
  decodePackageSet, encodePackageSet, materialize, planStorage, publicSummary, withPackages, type StoredGeneration,
} from '../generation-chain.ts';
import type { Emit, GenerationStore } from '../types.ts';
import { type SqliteContext, parse } from './context.ts';

/**
 * Generations in the embedded store (tables generations, packagesets): a new generation is numbered, stored and
 * journaled in one transaction (BEGIN IMMEDIATE), so two processes on one file never give one number twice and an
 * unchanged set is never recorded twice.
 */
export class SqliteGenerations implements GenerationStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      latest: db.prepare('SELECT doc FROM generations WHERE processorName = ? ORDER BY number DESC LIMIT 1').pluck(),
      find: db.prepare('SELECT doc FROM generations WHERE processorName = ? AND number = ?').pluck(),
      chain: db.prepare('SELECT doc FROM generations WHERE processorName = ? AND number BETWEEN ? AND ? ORDER BY number').pluck(),
      page: db.prepare('SELECT doc FROM generations WHERE processorName = ? ORDER BY number DESC LIMIT ? OFFSET ?').pluck(),
      insert: db.prepare('INSERT INTO generations (processorName, number, doc) VALUES (?, ?, ?)'),
      findSet: db.prepare('SELECT packages FROM packagesets WHERE setKey = ?').pluck(),
      insertSet: db.prepare('INSERT INTO packagesets (setKey, packages) VALUES (?, ?) ON CONFLICT (setKey) DO NOTHING'),
    };
  }

  async saveGeneration(draft: GenerationDraft, emit?: Emit<GenerationSummary>): Promise<{ generation: GenerationSummary; created: boolean }> {
    return this.ctx.transaction(() => {
      const latest = parse<StoredGeneration>(this.stmts.latest.get(draft.processorName));
      if (latest && latest.hash === draft.hash) return { generation: publicSummary(latest), created: false };
      const number = (latest?.number ?? 0) + 1;
      const { record, set } = planStorage(draft, number, latest ? { stored: latest, packages: this.packagesOf(latest) } : undefined);
      if (set) this.stmts.insertSet.run(set.key, encodePackageSet(set.packages));
      this.stmts.insert.run(draft.processorName, number, JSON.stringify(record));
      const generation = publicSummary(record);
      this.ctx.journal(emit?.(generation));
      return { generation, created: true };
    });
  }

  async listGenerations(processorName: string, page: { limit: number; offset: number }): Promise<GenerationSummary[]> {
    return this.ctx.read(() => (this.stmts.page.all(processorName, page.limit, page.offset) as string[])
      .map((doc) => publicSummary(JSON.parse(doc) as StoredGeneration)));
  }

  async findLatestGeneration(processorName: string): Promise<GenerationSummary | undefined> {
    return this.ctx.read(() => {
      const latest = parse<StoredGeneration>(this.stmts.latest.get(processorName));
      return latest && publicSummary(latest);
    });
  }

  async findGeneration(processorName: string, number: number): Promise<Generation | undefined> {
    return this.ctx.read(() => {
      const stored = parse<StoredGeneration>(this.stmts.find.get(processorName, number));
      return stored && withPackages(stored, this.packagesOf(stored));
    });
  }

  /** The whole package set of a stored generation: its chain's package set, then the differences up to it. */
  private packagesOf(stored: StoredGeneration): GenerationPackage[] {
    const chain = (this.stmts.chain.all(stored.processorName, stored.base, stored.number) as string[]).map((d) => JSON.parse(d) as StoredGeneration);
    const keyframe = this.stmts.findSet.get(chain[0]?.setKey ?? '') as Buffer | undefined;
    if (!keyframe || chain[0]?.number !== stored.base) {
      throw new Error(`the package set of generation ${stored.number} of processor "${stored.processorName}" is missing from the store`);
    }
    return materialize(chain, decodePackageSet(keyframe));
  }
}
