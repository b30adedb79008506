import type { Delivery, DeliveryFilter, SyncState } from '../domain/cluster.ts';
import type { EventDraft, ProcenvEvent } from '../domain/events.ts';
import type { Generation, GenerationDraft, GenerationSummary } from '../domain/generations.ts';
import type { Batch } from '../domain/batches.ts';
import type { IgnoreRule } from '../domain/audit-ignores.ts';
import type { Hold } from '../domain/holds.ts';
import type { Operation, OperationLogLine, OperationStatus } from '../domain/operation.ts';
import type { Processor } from '../domain/processor.ts';
import type { MaintenanceWindow } from '../domain/schedules.ts';
import type { Session, Sharing, User } from '../domain/user.ts';

/** A compute node as WASDI lists it in `nodes` (reference §6). */
export interface Node {
  nodeCode: string;
  nodeBaseAddress: string;
  nodeDescription?: string;
  active: boolean;
}

export interface OperationFilter {
  /** One processor, or any of several. */
  processorName?: string | readonly string[];
  /** One status, or any of several. */
  status?: OperationStatus | readonly OperationStatus[];
  userId?: string;
  nodeCode?: string;
  /** Only operations bound to this maintenance window. */
  window?: string;
  /** operationTimestamp bounds, ms, inclusive. */
  since?: number;
  until?: number;
  /** Default 100. */
  limit?: number;
  offset?: number;
}

/**
 * Events a write publishes, built from the record it wrote. The embedded store journals them in the write's own
 * transaction (a change and its event are stored together or not at all); MongoDB, which procenv uses without
 * transactions, journals them right after the write.
 */
export type Emit<T> = (written: T) => readonly EventDraft[];

/** Users, their sessions, and the sharing of processors with them (WASDI's users, sessions, userresourcepermissions). */
export interface AccountStore {
  saveUser(user: User): Promise<void>;
  findUser(userId: string): Promise<User | undefined>;

  saveSession(session: Session): Promise<void>;
  findSession(sessionId: string): Promise<Session | undefined>;
  touchSession(sessionId: string, at: number): Promise<void>;
  removeSession(sessionId: string): Promise<void>;

  /** Inserts or replaces the sharing of one resource with one user. */
  saveSharing(sharing: Sharing): Promise<void>;
  findSharing(resourceId: string, userId: string): Promise<Sharing | undefined>;
  listSharings(resourceId: string): Promise<Sharing[]>;
}

/** The processors registered from the processors folder. */
export interface ProcessorStore {
  /** Inserts or replaces by processorId; a name held by another id is a conflict. */
  saveProcessor(processor: Processor): Promise<void>;
  findProcessorById(processorId: string): Promise<Processor | undefined>;
  findProcessorByName(name: string): Promise<Processor | undefined>;
  listProcessors(): Promise<Processor[]>;
  removeProcessor(processorId: string): Promise<void>;
}

/**
 * ENVIRONMENTUPDATE operations and their logs. The writes take the statuses they may start from (the transitions of
 * `domain/operation-states.ts`) and the events they publish; only the lifecycle component writes.
 */
export interface OperationStore {
  /** Inserts a new operation; an idempotency key already used answers the earlier operation instead (no event). */
  insertOperation(operation: Operation, emit?: Emit<Operation>): Promise<{ operation: Operation; created: boolean }>;
  findOperation(processObjId: string): Promise<Operation | undefined>;
  /** Newest first. */
  listOperations(filter: OperationFilter): Promise<Operation[]>;
  /**
   * Applies `patch` only while the operation's status is one of `from`; answers the updated operation, or
   * undefined when the status had moved on (the atomic compare-and-set the queue claims with).
   */
  updateOperation(processObjId: string, from: readonly OperationStatus[], patch: Partial<Operation>, emit?: Emit<Operation>): Promise<Operation | undefined>;

  /**
   * The queue's atomic claim: the oldest CREATED operation of `nodeCode` whose processor has no RUNNING operation,
   * and that may start at `now` (no `notBefore` after it, no `notAfter` at or before it: a scheduled operation that
   * waits blocks nothing behind it), becomes RUNNING (`operationTransitions.claim`), held by `owner` until `leaseUntil`. Two workers, in one process
   * or two on the same store, never claim the same operation, nor two operations of one processor at once.
   * Answers undefined when nothing can be claimed.
   */
  claimNextOperation(nodeCode: string, owner: string, leaseUntil: number, now: number, emit?: Emit<Operation>): Promise<Operation | undefined>;
  /** Extends the lease of RUNNING operations still held by `owner`. */
  renewLeases(processObjIds: readonly string[], owner: string, leaseUntil: number): Promise<void>;
  /** RUNNING operations of `nodeCode` whose lease ended before `now` (their worker died). */
  listLapsedOperations(nodeCode: string, now: number): Promise<Operation[]>;
  /** CREATED operations of `nodeCode` that missed their window: `notAfter` at or before `now`; oldest first, at most `limit`. */
  listMissedOperations(nodeCode: string, now: number, limit: number): Promise<Operation[]>;

  /** Appends lines to an operation's log; seq numbers are given by the store, increasing from 1. */
  appendOperationLog(processObjId: string, lines: readonly Omit<OperationLogLine, 'seq'>[], emit?: Emit<OperationLogLine[]>): Promise<void>;
  /** Lines with seq > afterSeq (default 0), in order, at most `limit` (default 10,000). */
  readOperationLog(processObjId: string, options?: { afterSeq?: number; limit?: number }): Promise<OperationLogLine[]>;
}

/** The cluster: compute nodes, the main node's deliveries and history epochs, a compute node's sync state. */
export interface ClusterStore {
  saveNode(node: Node): Promise<void>;
  findNode(nodeCode: string): Promise<Node | undefined>;
  listNodes(): Promise<Node[]>;

  /** Main node: stores new deliveries (one per operation and node); an existing pair is left as it is. */
  insertDeliveries(deliveries: readonly Delivery[], emit?: Emit<Delivery[]>): Promise<void>;
  /** Oldest first. */
  listDeliveries(filter: DeliveryFilter): Promise<Delivery[]>;
  /** Applies `patch` while the delivery's state is one of `from`; answers the updated delivery or undefined. */
  updateDelivery(operationId: string, nodeCode: string, from: readonly Delivery['state'][], patch: Partial<Delivery>, emit?: Emit<Delivery>): Promise<Delivery | undefined>;

  /** Main node: the id of a processor's current history epoch ('0' until the first reset). */
  findHistoryEpoch(processorName: string): Promise<string>;
  /** Main node: starts a new history epoch (reset) and answers its id. */
  newHistoryEpoch(processorName: string): Promise<string>;

  /** Compute node: where this node stands in a processor's history on the main node. */
  findSyncState(processorName: string): Promise<SyncState | undefined>;
  saveSyncState(state: SyncState): Promise<void>;
}

/** Holds: packages of a processor that no change may move (domain/holds.ts). */
export interface HoldStore {
  /** Inserts the hold, or replaces the one on the same processor and package key. */
  saveHold(hold: Hold): Promise<void>;
  /** Answers whether there was one. */
  removeHold(processorName: string, key: string): Promise<boolean>;
  /** One processor's holds (or every processor's), by processor name then package key. */
  listHolds(processorName?: string): Promise<Hold[]>;
  /** Compute node: a processor's holds become exactly these (the main node's). */
  replaceHolds(processorName: string, holds: readonly Hold[]): Promise<void>;
}

/** Batches (domain/batches.ts): one change asked of many processors, with each processor's operation. */
export interface BatchStore {
  /** Inserts the batch, or replaces the one with its id. */
  saveBatch(batch: Batch): Promise<void>;
  findBatch(batchId: string): Promise<Batch | undefined>;
  /** Newest first; only `userId`'s when given. */
  listBatches(filter: { userId?: string; limit: number; offset: number }): Promise<Batch[]>;
}

/** Maintenance windows (domain/schedules.ts), kept on the main node; one per name. */
export interface WindowStore {
  /** Inserts the window, or replaces the one of the same name. */
  saveWindow(window: MaintenanceWindow): Promise<void>;
  findWindow(name: string): Promise<MaintenanceWindow | undefined>;
  /** By name. */
  listWindows(): Promise<MaintenanceWindow[]>;
  /** Answers whether there was one. */
  removeWindow(name: string): Promise<boolean>;
}

/** Ignore rules of the vulnerability audit (domain/audit-ignores.ts); expired ones stay until removed. */
export interface AuditIgnoreStore {
  /** Inserts the rule (ids are unique; a rule is never changed once made). */
  saveIgnoreRule(rule: IgnoreRule): Promise<void>;
  findIgnoreRule(id: string): Promise<IgnoreRule | undefined>;
  /** Answers whether there was one. */
  removeIgnoreRule(id: string): Promise<boolean>;
  /** Every rule, oldest first. */
  listIgnoreRules(): Promise<IgnoreRule[]>;
}

/** The event journal: ids increase; every process on the store reads the same journal. */
export interface EventStore {
  /** Journals events that no record write carries (a command started, packages changed on disk). */
  appendEvents(drafts: readonly EventDraft[]): Promise<void>;
  /** Events with id > afterId, oldest first, at most `limit`. */
  readEvents(afterId: number, limit: number): Promise<ProcenvEvent[]>;
  /** The oldest id still kept (undefined: none kept) and the newest id ever given (0: none yet). */
  eventBounds(): Promise<{ first: number | undefined; last: number }>;
  /** Drops events beyond the newest `keep` and those before `olderThan` (ms); answers how many went. */
  pruneEvents(keep: number, olderThan: number): Promise<number>;
  /** Where a reader of the journal that must survive restarts stands (the RabbitMQ bridge): the last id it handled. */
  findEventCursor(name: string): Promise<number | undefined>;
  saveEventCursor(name: string, id: number): Promise<void>;
}

/**
 * The generations of each processor's environment: immutable, numbered per processor from 1. How a package set is
 * kept (whole and shared, or as a difference from the generation before) is the adapters' business
 * (`store/generation-chain.ts`); the port answers whole package sets.
 */
export interface GenerationStore {
  /**
   * Records `draft` as the processor's next generation (its newest number + 1) unless the newest one has the same
   * hash: then nothing is written and the newest is answered with `created: false` (no event). Two writers on one
   * store never give one number twice.
   */
  saveGeneration(draft: GenerationDraft, emit?: Emit<GenerationSummary>): Promise<{ generation: GenerationSummary; created: boolean }>;
  /** Newest first. */
  listGenerations(processorName: string, page: { limit: number; offset: number }): Promise<GenerationSummary[]>;
  findLatestGeneration(processorName: string): Promise<GenerationSummary | undefined>;
  /** One generation with its whole package set, in canonical order. */
  findGeneration(processorName: string, number: number): Promise<Generation | undefined>;
}

/**
 * The store: the ports above, which two adapters implement: `embedded` (SQLite) and `mongodb` (WASDI's collections).
 * Both pass the same contract suite (`test/store/contract.ts`). Every method is async so that both fit.
 * Any method may reject with StoreUnavailableError (`domain/errors.ts`) when the store cannot answer: locked by
 * another process past its wait budget, a server that cannot be reached, a store file deleted or replaced.
 */
export interface Store extends AccountStore, ProcessorStore, OperationStore, ClusterStore, EventStore, GenerationStore, HoldStore, BatchStore,
  WindowStore, AuditIgnoreStore {
  readonly kind: 'embedded' | 'mongodb';
  close(): Promise<void>;
}
