import type { Batch } from '../domain/batches.ts';
import type { Delivery, DeliveryFilter, SyncState } from '../domain/cluster.ts';
import type { EventDraft, ProcenvEvent } from '../domain/events.ts';
import type { Generation, GenerationDraft, GenerationSummary } from '../domain/generations.ts';
import type { IgnoreRule } from '../domain/audit-ignores.ts';
import type { Hold } from '../domain/holds.ts';
import type { Operation, OperationLogLine, OperationStatus } from '../domain/operation.ts';
import type { Processor } from '../domain/processor.ts';
import type { MaintenanceWindow } from '../domain/schedules.ts';
import type { Session, Sharing, User } from '../domain/user.ts';
import type {
  AccountStore, AuditIgnoreStore, BatchStore, ClusterStore, Emit, EventStore, GenerationStore, HoldStore, Node, OperationFilter, OperationStore,
  ProcessorStore, Store, WindowStore,
} from './types.ts';

/** One implementation per port: what an adapter is made of. */
export interface StoreParts {
  accounts: AccountStore;
  processors: ProcessorStore;
  operations: OperationStore;
  cluster: ClusterStore;
  events: EventStore;
  generations: GenerationStore;
  holds: HoldStore;
  batches: BatchStore;
  windows: WindowStore;
  auditIgnores: AuditIgnoreStore;
}

/**
 * A store made of its parts: every method of a port is answered by the part that implements that port. Both
 * adapters extend it, so that each adds only how it opens and closes.
 */
export abstract class ComposedStore implements Store {
  abstract readonly kind: Store['kind'];

  protected constructor(private readonly parts: StoreParts) {}

  abstract close(): Promise<void>;

  saveUser(user: User): Promise<void> { return this.parts.accounts.saveUser(user); }
  findUser(userId: string): Promise<User | undefined> { return this.parts.accounts.findUser(userId); }
  saveSession(session: Session): Promise<void> { return this.parts.accounts.saveSession(session); }
  findSession(sessionId: string): Promise<Session | undefined> { return this.parts.accounts.findSession(sessionId); }
  touchSession(sessionId: string, at: number): Promise<void> { return this.parts.accounts.touchSession(sessionId, at); }
  removeSession(sessionId: string): Promise<void> { return this.parts.accounts.removeSession(sessionId); }
  saveSharing(sharing: Sharing): Promise<void> { return this.parts.accounts.saveSharing(sharing); }
  findSharing(resourceId: string, userId: string): Promise<Sharing | undefined> { return this.parts.accounts.findSharing(resourceId, userId); }
  listSharings(resourceId: string): Promise<Sharing[]> { return this.parts.accounts.listSharings(resourceId); }

  saveProcessor(processor: Processor): Promise<void> { return this.parts.processors.saveProcessor(processor); }
  findProcessorById(processorId: string): Promise<Processor | undefined> { return this.parts.processors.findProcessorById(processorId); }
  findProcessorByName(name: string): Promise<Processor | undefined> { return this.parts.processors.findProcessorByName(name); }
  listProcessors(): Promise<Processor[]> { return this.parts.processors.listProcessors(); }
  removeProcessor(processorId: string): Promise<void> { return this.parts.processors.removeProcessor(processorId); }

  insertOperation(operation: Operation, emit?: Emit<Operation>): Promise<{ operation: Operation; created: boolean }> {
    return this.parts.operations.insertOperation(operation, emit);
  }
  findOperation(processObjId: string): Promise<Operation | undefined> { return this.parts.operations.findOperation(processObjId); }
  listOperations(filter: OperationFilter): Promise<Operation[]> { return this.parts.operations.listOperations(filter); }
  updateOperation(processObjId: string, from: readonly OperationStatus[], patch: Partial<Operation>, emit?: Emit<Operation>): Promise<Operation | undefined> {
    return this.parts.operations.updateOperation(processObjId, from, patch, emit);
  }
  claimNextOperation(nodeCode: string, owner: string, leaseUntil: number, now: number, emit?: Emit<Operation>): Promise<Operation | undefined> {
    return this.parts.operations.claimNextOperation(nodeCode, owner, leaseUntil, now, emit);
  }
  renewLeases(processObjIds: readonly string[], owner: string, leaseUntil: number): Promise<void> {
    return this.parts.operations.renewLeases(processObjIds, owner, leaseUntil);
  }
  listLapsedOperations(nodeCode: string, now: number): Promise<Operation[]> { return this.parts.operations.listLapsedOperations(nodeCode, now); }
  listMissedOperations(nodeCode: string, now: number, limit: number): Promise<Operation[]> { return this.parts.operations.listMissedOperations(nodeCode, now, limit); }
  appendOperationLog(processObjId: string, lines: readonly Omit<OperationLogLine, 'seq'>[], emit?: Emit<OperationLogLine[]>): Promise<void> {
    return this.parts.operations.appendOperationLog(processObjId, lines, emit);
  }
  readOperationLog(processObjId: string, options?: { afterSeq?: number; limit?: number }): Promise<OperationLogLine[]> {
    return this.parts.operations.readOperationLog(processObjId, options);
  }

  saveNode(node: Node): Promise<void> { return this.parts.cluster.saveNode(node); }
  findNode(nodeCode: string): Promise<Node | undefined> { return this.parts.cluster.findNode(nodeCode); }
  listNodes(): Promise<Node[]> { return this.parts.cluster.listNodes(); }
  insertDeliveries(deliveries: readonly Delivery[], emit?: Emit<Delivery[]>): Promise<void> { return this.parts.cluster.insertDeliveries(deliveries, emit); }
  listDeliveries(filter: DeliveryFilter): Promise<Delivery[]> { return this.parts.cluster.listDeliveries(filter); }
  updateDelivery(operationId: string, nodeCode: string, from: readonly Delivery['state'][], patch: Partial<Delivery>, emit?: Emit<Delivery>): Promise<Delivery | undefined> {
    return this.parts.cluster.updateDelivery(operationId, nodeCode, from, patch, emit);
  }
  findHistoryEpoch(processorName: string): Promise<string> { return this.parts.cluster.findHistoryEpoch(processorName); }
  newHistoryEpoch(processorName: string): Promise<string> { return this.parts.cluster.newHistoryEpoch(processorName); }
  findSyncState(processorName: string): Promise<SyncState | undefined> { return this.parts.cluster.findSyncState(processorName); }
  saveSyncState(state: SyncState): Promise<void> { return this.parts.cluster.saveSyncState(state); }

  appendEvents(drafts: readonly EventDraft[]): Promise<void> { return this.parts.events.appendEvents(drafts); }
  readEvents(afterId: number, limit: number): Promise<ProcenvEvent[]> { return this.parts.events.readEvents(afterId, limit); }
  eventBounds(): Promise<{ first: number | undefined; last: number }> { return this.parts.events.eventBounds(); }
  pruneEvents(keep: number, olderThan: number): Promise<number> { return this.parts.events.pruneEvents(keep, olderThan); }
  findEventCursor(name: string): Promise<number | undefined> { return this.parts.events.findEventCursor(name); }
  saveEventCursor(name: string, id: number): Promise<void> { return this.parts.events.saveEventCursor(name, id); }

  saveGeneration(draft: GenerationDraft, emit?: Emit<GenerationSummary>): Promise<{ generation: GenerationSummary; created: boolean }> {
    return this.parts.generations.saveGeneration(draft, emit);
  }
  listGenerations(processorName: string, page: { limit: number; offset: number }): Promise<GenerationSummary[]> {
    return this.parts.generations.listGenerations(processorName, page);
  }
  findLatestGeneration(processorName: string): Promise<GenerationSummary | undefined> { return this.parts.generations.findLatestGeneration(processorName); }
  findGeneration(processorName: string, number: number): Promise<Generation | undefined> { return this.parts.generations.findGeneration(processorName, number); }

  saveHold(hold: Hold): Promise<void> { return this.parts.holds.saveHold(hold); }
  removeHold(processorName: string, key: string): Promise<boolean> { return this.parts.holds.removeHold(processorName, key); }
  listHolds(processorName?: string): Promise<Hold[]> { return this.parts.holds.listHolds(processorName); }
  replaceHolds(processorName: string, holds: readonly Hold[]): Promise<void> { return this.parts.holds.replaceHolds(processorName, holds); }
  saveBatch(batch: Batch): Promise<void> { return this.parts.batches.saveBatch(batch); }
  findBatch(batchId: string): Promise<Batch | undefined> { return this.parts.batches.findBatch(batchId); }
  listBatches(filter: { userId?: string; limit: number; offset: number }): Promise<Batch[]> { return this.parts.batches.listBatches(filter); }

  saveWindow(window: MaintenanceWindow): Promise<void> { return this.parts.windows.saveWindow(window); }
  findWindow(name: string): Promise<MaintenanceWindow | undefined> { return this.parts.windows.findWindow(name); }
  listWindows(): Promise<MaintenanceWindow[]> { return this.parts.windows.listWindows(); }
  removeWindow(name: string): Promise<boolean> { return this.parts.windows.removeWindow(name); }

  saveIgnoreRule(rule: IgnoreRule): Promise<void> { return this.parts.auditIgnores.saveIgnoreRule(rule); }
  findIgnoreRule(id: string): Promise<IgnoreRule | undefined> { return this.parts.auditIgnores.findIgnoreRule(id); }
  removeIgnoreRule(id: string): Promise<boolean> { return this.parts.auditIgnores.removeIgnoreRule(id); }
  listIgnoreRules(): Promise<IgnoreRule[]> { return this.parts.auditIgnores.listIgnoreRules(); }
}
