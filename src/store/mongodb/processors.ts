import { ConflictError } from '../../domain/errors.ts';
import type { Processor } from '../../domain/processor.ts';
import type { ProcessorStore } from '../types.ts';
import { type Collections, NO_ID, fromProcessor, isDuplicateKeyError, toProcessor, toUpdate } from './collections.ts';

/** The processors on MongoDB: WASDI's processors collection, whose unique name index makes a name conflict atomic. */
export class MongoProcessors implements ProcessorStore {
  constructor(private readonly c: Collections) {}

  async saveProcessor(processor: Processor): Promise<void> {
    const doc = fromProcessor(processor);
    // $set keeps the fields WASDI has and procenv does not know; the optional fields procenv owns are cleared.
    const update = toUpdate({ ...doc, python: doc.python, source: doc.source });
    for (let attempt = 0; ; attempt++) {
      try {
        await this.c.processors.updateOne({ processorId: processor.processorId }, update, { upsert: true });
        return;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        const holder = await this.c.processors.findOne({ name: processor.name }, { projection: { _id: 0, processorId: 1 } });
        if (holder && holder.processorId !== processor.processorId) {
          throw new ConflictError('PROCESSOR_NAME_TAKEN', `processor name "${processor.name}" is already registered by another processorId`, { cause: err });
        }
        // Two upserts of the same new processorId raced: the retry finds the inserted document and updates it.
        if (attempt >= 2) throw err;
      }
    }
  }
  async findProcessorById(processorId: string): Promise<Processor | undefined> {
    const doc = await this.c.processors.findOne({ processorId }, { projection: NO_ID });
    return doc ? toProcessor(doc) : undefined;
  }
  async findProcessorByName(name: string): Promise<Processor | undefined> {
    const doc = await this.c.processors.findOne({ name }, { projection: NO_ID });
    return doc ? toProcessor(doc) : undefined;
  }
  async listProcessors(): Promise<Processor[]> {
    const docs = await this.c.processors.find({}, { sort: { name: 1 }, projection: NO_ID }).toArray();
    return docs.map(toProcessor);
  }
  async removeProcessor(processorId: string): Promise<void> {
    await this.c.processors.deleteOne({ processorId });
  }
}
