import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { InvalidInputError, NotFoundError } from '../domain/errors.ts';
import { exportGeneration, type ExportedFile, type ExportFormat } from '../domain/generation-export.ts';
import {
  diffGenerations, generationHash, hasPackageList, packagesOf, type Generation, type GenerationCause, type GenerationDiff, type GenerationDraft,
  type GenerationSummary,
} from '../domain/generations.ts';
import type { Operation } from '../domain/operation.ts';
import type { PackagesInfo } from '../domain/packages.ts';
import { isValidProcessorName, managerKindOf, type Processor } from '../domain/processor.ts';
import type { Caller } from '../domain/user.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { ManagerRegistry } from '../managers/types.ts';
import type { Store } from '../store/types.ts';
import type { EnvironmentService } from './environments.ts';

export interface GenerationServiceOptions {
  store: Store;
  lifecycle: Lifecycle;
  catalog: Pick<ProcessorCatalog, 'readPackagesInfo' | 'folderOf'>;
  managers: ManagerRegistry;
  environments: Pick<EnvironmentService, 'processorForRead'>;
  log: Logger;
}

/**
 * The start-up pass rests this long after each processor: it runs beside requests at a fraction of one core, so
 * that a node with thousands of processors starts serving as fast as without it (bench/scale).
 */
const FIRST_SEEN_PAUSE_MS = 50;

/** What made a package set seen: an operation (with the user it ran for), or the file as another hand left it. */
type Origin = { cause: 'operation'; operationId: string; userId: string } | { cause: Exclude<GenerationCause, 'operation'> };

/**
 * The generations of processors' environments: recorded whenever procenv sees a package set (after an operation,
 * when packagesInfo.json changes by another hand, when it first sees a processor) through the lifecycle, which stores
 * a new generation only when the set differs from the newest one; and read, compared and exported for people with
 * read permission on the processor.
 */
export class GenerationService {
  private stopped = false;

  constructor(private readonly o: GenerationServiceOptions) {}

  /** Ends the start-up pass (`recordFirstSeen`) at its next processor. */
  stop(): void {
    this.stopped = true;
  }

  /** After an operation rewrote packagesInfo.json from `info`, the manager's own report (pip's requested flags included). */
  async recordOperation(processor: Processor, info: PackagesInfo, op: Pick<Operation, 'processObjId' | 'userId'>): Promise<GenerationSummary | undefined> {
    return this.record(processor, info, { cause: 'operation', operationId: op.processObjId, userId: op.userId });
  }

  /**
   * packagesInfo.json as it is on disk now: changed by another hand ('disk'), or a processor procenv has no
   * generation of yet ('first-seen', which records nothing once the processor has one).
   */
  async recordFromDisk(name: string, cause: 'disk' | 'first-seen'): Promise<GenerationSummary | undefined> {
    const processor = await this.o.store.findProcessorByName(name);
    if (!processor) return undefined;
    if (cause === 'first-seen' && (await this.o.store.findLatestGeneration(name))) return undefined;
    const info = this.o.catalog.readPackagesInfo(name);
    return info ? this.record(processor, info, { cause }) : undefined;
  }

  /**
   * Start-up: each registered processor without a generation gets its first one from its packagesInfo.json, in the
   * background at a low pace (see FIRST_SEEN_PAUSE_MS). Whatever needs a processor's generations sooner (a read of
   * them, the cluster's sync answer, an operation about to change the environment) records it first itself.
   */
  async recordFirstSeen(): Promise<void> {
    for (const p of await this.o.store.listProcessors()) {
      if (this.stopped) return;
      await this.firstSeen(p.name);
      await sleep(FIRST_SEEN_PAUSE_MS);
    }
  }

  /**
   * The processor's first generation from its packagesInfo.json, unless it has one. Called before anything reads
   * generations, and before an operation changes the environment (so that the state it started from is kept).
   */
  async firstSeen(name: string): Promise<void> {
    await this.recordFromDisk(name, 'first-seen').catch((err) => this.o.log.warn({ err, processor: name }, 'first generation not recorded'));
  }

  private async record(processor: Processor, info: PackagesInfo, origin: Origin): Promise<GenerationSummary | undefined> {
    const kind = managerKindOf(processor.type);
    if (!kind || !hasPackageList(info)) return undefined;
    const packages = packagesOf(kind, info);
    const version = info.packageManager?.version;
    const draft: GenerationDraft = {
      processorName: processor.name, manager: { kind, ...(version ? { version } : {}) }, ...origin, at: Date.now(),
      hash: generationHash(kind, packages), packages,
    };
    const { generation, created } = await this.o.lifecycle.recordGeneration(draft);
    if (created) {
      this.o.log.info({ processor: processor.name, generation: generation.number, cause: origin.cause, packages: generation.packageCount }, 'generation recorded');
      // Its distributions, for a restore once the index no longer has them (the wheel cache, in the background).
      this.o.managers[kind]?.keepPackages?.({ processor, folder: this.o.catalog.folderOf(processor.name) }, packages);
    }
    return generation;
  }

  /** The newest generation of a processor on this node (the cluster's sync answer; no caller: node-to-node). */
  async latest(name: string): Promise<GenerationSummary | undefined> {
    await this.firstSeen(name);
    return this.o.store.findLatestGeneration(name);
  }

  /** Newest first. */
  async list(caller: Caller, name: string, page: { limit: number; offset: number }): Promise<GenerationSummary[]> {
    await this.readable(caller, name);
    return this.o.store.listGenerations(name, page);
  }

  /** The manifest: the generation with its whole package set. */
  async get(caller: Caller, name: string, number: number): Promise<Generation> {
    await this.readable(caller, name);
    return this.find(name, number);
  }

  /** What changed from generation `from` to generation `to` (either may be the older). */
  async diff(caller: Caller, name: string, from: number, to: number): Promise<GenerationDiff> {
    await this.readable(caller, name);
    const [a, b] = await Promise.all([this.find(name, from), this.find(name, to)]);
    const kind = b.manager.kind;
    const order = this.o.managers[kind]?.compareVersions?.bind(this.o.managers[kind]) ?? (() => undefined);
    return diffGenerations(kind, a, b, order);
  }

  /** A generation as a requirements.txt (pip), environment.yml (conda) or its manifest (json). */
  async export(caller: Caller, name: string, number: number, format: ExportFormat): Promise<ExportedFile> {
    await this.readable(caller, name);
    const g = await this.find(name, number);
    return exportGeneration(name, g.manager.kind, g, format);
  }

  /** Read permission, as for listPackages; a name no processor can have is a 400 rather than a 403. */
  private async readable(caller: Caller, name: string): Promise<void> {
    if (!isValidProcessorName(name)) {
      throw new InvalidInputError('INVALID_PROCESSOR_NAME', `"${name.slice(0, 80)}" is not a processor name: letters, digits, "_", "." and "-", at most 128`);
    }
    await this.o.environments.processorForRead(caller, name);
    await this.firstSeen(name);
  }

  private async find(name: string, number: number): Promise<Generation> {
    const g = await this.o.store.findGeneration(name, number);
    if (!g) throw new NotFoundError('GENERATION_NOT_FOUND', `processor "${name}" has no generation ${number}`, { details: { generation: number } });
    return g;
  }
}
