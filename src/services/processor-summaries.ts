import type { PackageCounts } from '../catalog/catalog.ts';
import { ForbiddenError, InvalidInputError } from '../domain/errors.ts';
import type { Operation, OperationError, OperationStatus } from '../domain/operation.ts';
import { canAccess, canWrite } from '../domain/permissions.ts';
import { isValidProcessorName, managerKindOf, type ManagerKind, type Processor } from '../domain/processor.ts';
import type { Caller, Sharing } from '../domain/user.ts';
import { Limiter } from '../util/limiter.ts';
import type { EnvironmentService } from './environments.ts';

/** The newest operation of a processor, as the panel's processor list shows it ("last change and its result"). */
export interface LastOperation {
  processObjId: string;
  status: OperationStatus;
  /** When it last changed state (ms): its end once it has ended. */
  at: number;
  commands: string[];
  userId: string;
  error?: OperationError;
}

/** One processor as the panel lists it: what it is, what the caller may do with it, and how its environment stands. */
export interface ProcessorSummary {
  name: string;
  processorId: string;
  type: string;
  manager: ManagerKind | null;
  owner: string;
  isPublic: boolean;
  canWrite: boolean;
  /** From the processor's parsed packagesInfo.json: 0 without one, null when it cannot be read (see packagesError). */
  packages: number | null;
  outdated: number | null;
  packagesError?: OperationError;
  lastOperation: LastOperation | null;
}

/** What this use case needs of the store: processors, sharings and operations (any adapter has them). */
export interface ProcessorSummaryStore {
  listProcessors(): Promise<Processor[]>;
  findSharing(resourceId: string, userId: string): Promise<Sharing | undefined>;
  /** Newest first. */
  listOperations(filter: { processorName: string; limit: number }): Promise<Operation[]>;
}

/** What it needs of the catalog: the parsed packagesInfo.json of a processor. */
export interface ProcessorSummaryCatalog {
  snapshot(name: string):
    | { state: 'ok'; counts: PackageCounts }
    | { state: 'missing' }
    | { state: 'empty' }
    | { state: 'unreadable'; error: OperationError };
}

/** At most this many store reads at once while a list is put together (a MongoDB server is not flooded). */
const STORE_READS = 8;

/**
 * The processors a caller can read, each with the caller's rights, its package counts and its last operation: what
 * the environment panel lists. Read and write rights are decided by the domain's rules (`canAccess`, `canWrite`),
 * the same the /packageManager API applies.
 */
export class ProcessorSummaryService {
  private readonly store: ProcessorSummaryStore;
  private readonly catalog: ProcessorSummaryCatalog;
  private readonly environments: Pick<EnvironmentService, 'processorForRead'>;
  private readonly reads = new Limiter(STORE_READS);

  constructor(options: { store: ProcessorSummaryStore; catalog: ProcessorSummaryCatalog; environments: Pick<EnvironmentService, 'processorForRead'> }) {
    this.store = options.store;
    this.catalog = options.catalog;
    this.environments = options.environments;
  }

  /** Every processor the caller can read, sorted by name (ignoring case). */
  async list(caller: Caller): Promise<ProcessorSummary[]> {
    const processors = await this.store.listProcessors();
    const rows = await Promise.all(processors.map((p) => this.reads.run(async () => {
      const rights = await this.rightsOf(caller, p);
      return rights.read ? this.summaryOf(p, rights.write) : undefined;
    })));
    return rows
      .filter((r): r is ProcessorSummary => r !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.name < b.name ? -1 : 1));
  }

  /**
   * One processor. A name that cannot be a processor's is a 400; an unknown or unreadable one answers 403, as the
   * rest of procenv does, so that a stranger cannot tell a private processor from one that does not exist.
   */
  async get(caller: Caller, name: string): Promise<ProcessorSummary> {
    if (!isValidProcessorName(name)) {
      throw new InvalidInputError('INVALID_PROCESSOR_NAME', `"${name.slice(0, 80)}" is not a processor name: letters, digits, "_", "." and "-", at most 128`);
    }
    const processor = await this.environments.processorForRead(caller, name);
    const rights = await this.rightsOf(caller, processor);
    if (!rights.read) throw new ForbiddenError('PROCESSOR_NOT_ACCESSIBLE', `processor "${name}" does not exist or you cannot access it`);
    return this.summaryOf(processor, rights.write);
  }

  /** Both rights from one sharing lookup, made only when the owner, admin and public rules leave it open. */
  private async rightsOf(caller: Caller, processor: Processor): Promise<{ read: boolean; write: boolean }> {
    const sharing = caller.admin || processor.userId === caller.userId ? undefined : await this.store.findSharing(processor.processorId, caller.userId);
    return { read: canAccess(caller, processor, sharing), write: canWrite(caller, processor, sharing) };
  }

  private async summaryOf(processor: Processor, write: boolean): Promise<ProcessorSummary> {
    const [last] = await this.store.listOperations({ processorName: processor.name, limit: 1 });
    return {
      name: processor.name,
      processorId: processor.processorId,
      type: processor.type,
      manager: managerKindOf(processor.type) ?? null,
      owner: processor.userId,
      isPublic: processor.isPublic,
      canWrite: write,
      ...this.countsOf(processor.name),
      lastOperation: last ? lastOperationOf(last) : null,
    };
  }

  private countsOf(name: string): Pick<ProcessorSummary, 'packages' | 'outdated' | 'packagesError'> {
    let snap: ReturnType<ProcessorSummaryCatalog['snapshot']>;
    try {
      snap = this.catalog.snapshot(name);
    } catch (err) {
      // A store-registered processor whose name cannot be a folder: there is no snapshot to count.
      return { packages: null, outdated: null, packagesError: { code: 'SNAPSHOT_UNREADABLE', message: (err as Error).message } };
    }
    switch (snap.state) {
      case 'ok': return { packages: snap.counts.packages, outdated: snap.counts.outdated };
      case 'missing': return { packages: 0, outdated: 0 };
      case 'empty': return { packages: null, outdated: null, packagesError: { code: 'SNAPSHOT_EMPTY', message: 'packagesInfo.json is empty' } };
      // The reason listPackages answers readers with (500) too.
      case 'unreadable': return { packages: null, outdated: null, packagesError: { code: snap.error.code, message: snap.error.message } };
    }
  }
}

function lastOperationOf(op: Operation): LastOperation {
  return {
    processObjId: op.processObjId,
    status: op.status,
    at: op.operationEndTimestamp ?? op.lastStateChangeTimestamp,
    commands: op.commands,
    userId: op.userId,
    ...(op.error ? { error: op.error } : {}),
  };
}
