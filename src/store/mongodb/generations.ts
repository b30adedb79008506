import { Binary } from 'mongodb';
import type { Generation, GenerationDraft, GenerationPackage, GenerationSummary } from '../../domain/generations.ts';
import {
  decodePackageSet, encodePackageSet, materialize, planStorage, publicSummary, withPackages, type StoredGeneration,
} from '../generation-chain.ts';
import type { Emit, GenerationStore } from '../types.ts';
import { type Collections, NO_ID, isDuplicateKeyError } from './collections.ts';
import type { MongoEventJournal } from './event-journal.ts';

/** Writers that took the next number first, one after the other, before a save gives up. */
const MAX_NUMBER_RACES = 5;

/**
 * Generations on MongoDB (procenv's own collections `generations` and `packagesets`). Without transactions the next
 * number is taken by inserting it: the unique (processorName, number) index refuses a number another writer took
 * first, and the save looks at the newest generation again (that writer may have recorded this very set). A package
 * set is stored before the generation that names it, so no reader ever finds a generation without its set.
 */
export class MongoGenerations implements GenerationStore {
  constructor(private readonly c: Collections, private readonly journal: MongoEventJournal) {}

  async saveGeneration(draft: GenerationDraft, emit?: Emit<GenerationSummary>): Promise<{ generation: GenerationSummary; created: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const latest = await this.latest(draft.processorName);
      if (latest && latest.hash === draft.hash) return { generation: publicSummary(latest), created: false };
      const number = (latest?.number ?? 0) + 1;
      const { record, set } = planStorage(draft, number, latest ? { stored: latest, packages: await this.packagesOf(latest) } : undefined);
      if (set) await this.saveSet(set.key, set.packages);
      try {
        // insertOne adds an _id to the document it is given: it gets a copy.
        await this.c.generations.insertOne({ ...record });
      } catch (err) {
        if (isDuplicateKeyError(err) && attempt < MAX_NUMBER_RACES) continue;
        throw err;
      }
      const generation = publicSummary(record);
      await this.journal.journalEmitted(generation, emit);
      return { generation, created: true };
    }
  }

  async listGenerations(processorName: string, page: { limit: number; offset: number }): Promise<GenerationSummary[]> {
    const docs = await this.c.generations.find({ processorName }, { sort: { number: -1 }, skip: page.offset, limit: page.limit, projection: NO_ID }).toArray();
    return docs.map(publicSummary);
  }

  async findLatestGeneration(processorName: string): Promise<GenerationSummary | undefined> {
    const latest = await this.latest(processorName);
    return latest && publicSummary(latest);
  }

  async findGeneration(processorName: string, number: number): Promise<Generation | undefined> {
    const stored = await this.c.generations.findOne({ processorName, number }, { projection: NO_ID });
    return stored ? withPackages(stored, await this.packagesOf(stored)) : undefined;
  }

  private async latest(processorName: string): Promise<StoredGeneration | undefined> {
    return (await this.c.generations.findOne({ processorName }, { sort: { number: -1 }, projection: NO_ID })) ?? undefined;
  }

  /** Inserts a package set unless it is there (its key is its content, so the one there is the same). */
  private async saveSet(key: string, packages: GenerationPackage[]): Promise<void> {
    try {
      await this.c.packageSets.updateOne({ _id: key }, { $setOnInsert: { packages: new Binary(encodePackageSet(packages)) } }, { upsert: true });
    } catch (err) {
      // Two upserts of one new key raced: the other one inserted it.
      if (!isDuplicateKeyError(err)) throw err;
    }
  }

  private async packagesOf(stored: StoredGeneration): Promise<GenerationPackage[]> {
    const chain = await this.c.generations.find({ processorName: stored.processorName, number: { $gte: stored.base, $lte: stored.number } }, { sort: { number: 1 }, projection: NO_ID }).toArray();
    const set = chain[0]?.number === stored.base && chain[0].setKey !== undefined ? await this.c.packageSets.findOne({ _id: chain[0].setKey }) : null;
    if (!set) throw new Error(`the package set of generation ${stored.number} of processor "${stored.processorName}" is missing from the store`);
    return materialize(chain, decodePackageSet(set.packages.buffer));
  }
}
