import { ConflictError } from '../../domain/errors.ts';
import type { Processor } from '../../domain/processor.ts';
import type { ProcessorStore } from '../types.ts';
import { type SqliteContext, parse, parseAll } from './context.ts';

/** The processors in the embedded store (table processors; `name` is unique). */
export class SqliteProcessors implements ProcessorStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      saveProcessor: db.prepare('INSERT INTO processors (processorId, name, doc) VALUES (?, ?, ?) ON CONFLICT (processorId) DO UPDATE SET name = excluded.name, doc = excluded.doc'),
      processorIdByName: db.prepare('SELECT processorId FROM processors WHERE name = ?').pluck(),
      findProcessorById: db.prepare('SELECT doc FROM processors WHERE processorId = ?').pluck(),
      findProcessorByName: db.prepare('SELECT doc FROM processors WHERE name = ?').pluck(),
      listProcessors: db.prepare('SELECT doc FROM processors ORDER BY name').pluck(),
      removeProcessor: db.prepare('DELETE FROM processors WHERE processorId = ?'),
    };
  }

  async saveProcessor(processor: Processor): Promise<void> {
    await this.ctx.transaction(() => {
      const holder = this.stmts.processorIdByName.get(processor.name) as string | undefined;
      if (holder !== undefined && holder !== processor.processorId) {
        throw new ConflictError('PROCESSOR_NAME_TAKEN', `processor name "${processor.name}" is already registered by another processorId`);
      }
      this.stmts.saveProcessor.run(processor.processorId, processor.name, JSON.stringify(processor));
    });
  }
  async findProcessorById(processorId: string): Promise<Processor | undefined> {
    return this.ctx.read(() => parse(this.stmts.findProcessorById.get(processorId)));
  }
  async findProcessorByName(name: string): Promise<Processor | undefined> {
    return this.ctx.read(() => parse(this.stmts.findProcessorByName.get(name)));
  }
  async listProcessors(): Promise<Processor[]> {
    return this.ctx.read(() => parseAll(this.stmts.listProcessors.all()));
  }
  async removeProcessor(processorId: string): Promise<void> {
    await this.ctx.write(() => this.stmts.removeProcessor.run(processorId));
  }
}
