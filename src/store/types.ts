import type { Operation, OperationStatus } from '../domain/operation.ts';
import type { Processor } from '../domain/processor.ts';
import type { Session, Sharing, User } from '../domain/user.ts';

/** A compute node as WASDI lists it in `nodes` (reference §6). */
export interface Node {
  nodeCode: string;
  nodeBaseAddress: string;
  nodeDescription?: string;
  active: boolean;
}

export interface OperationFilter {
  processorName?: string;
  status?: OperationStatus;
  userId?: string;
  limit?: number;
  offset?: number;
}

/**
 * The store port. Two adapters implement it: `embedded` (SQLite) and `mongodb` (WASDI's collections).
 * Both pass the same contract suite (`test/store/contract.ts`). Every method is async so that both fit.
 */
export interface Store {
  readonly kind: 'embedded' | 'mongodb';

  saveUser(user: User): Promise<void>;
  findUser(userId: string): Promise<User | undefined>;

  saveSession(session: Session): Promise<void>;
  findSession(sessionId: string): Promise<Session | undefined>;
  touchSession(sessionId: string, at: number): Promise<void>;
  removeSession(sessionId: string): Promise<void>;

  /** Inserts or replaces by processorId; a name held by another id is a conflict. */
  saveProcessor(processor: Processor): Promise<void>;
  findProcessorById(processorId: string): Promise<Processor | undefined>;
  findProcessorByName(name: string): Promise<Processor | undefined>;
  listProcessors(): Promise<Processor[]>;
  removeProcessor(processorId: string): Promise<void>;

  /** Inserts or replaces the sharing of one resource with one user. */
  saveSharing(sharing: Sharing): Promise<void>;
  findSharing(resourceId: string, userId: string): Promise<Sharing | undefined>;
  listSharings(resourceId: string): Promise<Sharing[]>;

  saveNode(node: Node): Promise<void>;
  findNode(nodeCode: string): Promise<Node | undefined>;
  listNodes(): Promise<Node[]>;

  /** Inserts a new operation; an idempotency key already used answers the earlier operation instead. */
  insertOperation(operation: Operation): Promise<{ operation: Operation; created: boolean }>;
  findOperation(processObjId: string): Promise<Operation | undefined>;
  /** Newest first. */
  listOperations(filter: OperationFilter): Promise<Operation[]>;
  /**
   * Applies `patch` only while the operation's status is one of `from`; answers the updated operation, or
   * undefined when the status had moved on (the atomic compare-and-set the queue claims with).
   */
  updateOperation(processObjId: string, from: readonly OperationStatus[], patch: Partial<Operation>): Promise<Operation | undefined>;

  close(): Promise<void>;
}
