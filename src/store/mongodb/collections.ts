import { MongoServerError, type Binary, type Collection, type Db, type Document, type IndexDescription } from 'mongodb';
import type { EventDraft } from '../../domain/events.ts';
import type { IgnoreRule } from '../../domain/audit-ignores.ts';
import type { Delivery, SyncState } from '../../domain/cluster.ts';
import type { Batch } from '../../domain/batches.ts';
import type { Hold } from '../../domain/holds.ts';
import type { Operation, OperationLogLine } from '../../domain/operation.ts';
import { parseIsPublic, type Processor } from '../../domain/processor.ts';
import type { MaintenanceWindow } from '../../domain/schedules.ts';
import type { Session, Sharing, User } from '../../domain/user.ts';
import type { StoredGeneration } from '../generation-chain.ts';
import type { Node } from '../types.ts';

/**
 * WASDI's collections as procenv reads and writes them (reference §5.1, §6, §8). WASDI's documents carry more
 * fields than procenv's records; procenv writes its fields with `$set` so the others survive, and reads back only
 * the fields of its own records (so no `_id`, no password hash of a WASDI user, ever leaves the adapter).
 */
export interface UserDoc { userId: string; role?: string }
export interface SessionDoc { sessionId: string; userId: string; loginDate: number; lastTouch: number }
/** WASDI stores `isPublic` as 0/1; older documents may hold a boolean or a string. */
export interface ProcessorDoc {
  processorId: string; name: string; type: string; userId: string; isPublic?: unknown;
  python?: string; source?: 'folder' | 'store';
}
export interface SharingDoc {
  resourceType: string; resourceId: string; userId: string; ownerId: string; permissions: string;
  createdBy: string; createdDate: number;
}
export interface NodeDoc { nodeCode: string; nodeBaseAddress?: string; nodeDescription?: string | null; active?: boolean }
/** One line of an operation's log (procenv's own collection). */
export interface LogDoc extends OperationLogLine { processObjId: string }
/** The last log seq handed out for one operation; `_id` is the processObjId. */
export interface LogCounterDoc { _id: string; seq: number }
/**
 * The claim lock of one processor (see operation-claims.ts); `_id` is the processor name. `token` is unique per
 * acquisition, so a lock is only ever released or replaced by a compare on the acquisition that was seen.
 */
export interface LockDoc { _id: string; processObjId: string; owner: string; leaseExpiresAt: number; token: string }
/** One journaled event; `_id` is its id. */
export interface EventDoc { _id: number; at: number; draft: EventDraft }
/** The last event id handed out (`_id` 'events'). */
export interface EventCounterDoc { _id: string; seq: number }
/** Main node: the current history epoch of one processor (a new one at each reset). */
export interface EpochDoc { processorName: string; epoch: string }
/** A whole package set, shared by every generation that has it; `_id` is its content key, `packages` its deflated JSON (generation-chain.ts). */
export interface PackageSetDoc { _id: string; packages: Binary }

export interface Collections {
  users: Collection<UserDoc>;
  sessions: Collection<SessionDoc>;
  processors: Collection<ProcessorDoc>;
  sharings: Collection<SharingDoc>;
  nodes: Collection<NodeDoc>;
  operations: Collection<Operation>;
  logs: Collection<LogDoc>;
  logCounters: Collection<LogCounterDoc>;
  locks: Collection<LockDoc>;
  deliveries: Collection<Delivery>;
  epochs: Collection<EpochDoc>;
  syncStates: Collection<SyncState>;
  events: Collection<EventDoc>;
  eventCounters: Collection<EventCounterDoc>;
  eventCursors: Collection<EventCounterDoc>;
  generations: Collection<StoredGeneration>;
  packageSets: Collection<PackageSetDoc>;
  holds: Collection<Hold>;
  batches: Collection<Batch>;
  windows: Collection<MaintenanceWindow>;
  auditIgnores: Collection<IgnoreRule>;
}

export function collectionsOf(db: Db): Collections {
  return {
    users: db.collection<UserDoc>('users'),
    sessions: db.collection<SessionDoc>('sessions'),
    processors: db.collection<ProcessorDoc>('processors'),
    sharings: db.collection<SharingDoc>('userresourcepermissions'),
    nodes: db.collection<NodeDoc>('nodes'),
    operations: db.collection<Operation>('processworkspace'),
    logs: db.collection<LogDoc>('operationlogs'),
    logCounters: db.collection<LogCounterDoc>('operationlogcounters'),
    locks: db.collection<LockDoc>('processorlocks'),
    deliveries: db.collection<Delivery>('nodedeliveries'),
    epochs: db.collection<EpochDoc>('historyepochs'),
    syncStates: db.collection<SyncState>('syncstates'),
    events: db.collection<EventDoc>('events'),
    eventCounters: db.collection<EventCounterDoc>('eventcounters'),
    eventCursors: db.collection<EventCounterDoc>('eventcursors'),
    generations: db.collection<StoredGeneration>('generations'),
    packageSets: db.collection<PackageSetDoc>('packagesets'),
    holds: db.collection<Hold>('packageholds'),
    batches: db.collection<Batch>('packagebatches'),
    windows: db.collection<MaintenanceWindow>('maintenancewindows'),
    auditIgnores: db.collection<IgnoreRule>('auditignores'),
  };
}

/**
 * WASDI keeps every kind of operation in `processworkspace`; procenv only ever reads and claims its own kind, so
 * that a shared database never hands WASDI's RUNPROCESSOR or INGEST operations to procenv's queue.
 */
export const OPERATION_TYPE = 'ENVIRONMENTUPDATE' as const;

/**
 * The indexes the adapter relies on. The unique ones are correctness, not speed: processorId/name make the name
 * conflict atomic, processObjId/idempotencyKey make inserts race-safe, and (processObjId, seq) makes a log seq
 * impossible to hand out twice. A WASDI database holding duplicates makes `connect` fail rather than run unsafely.
 */
const INDEXES: Record<keyof Collections, IndexDescription[]> = {
  users: [{ key: { userId: 1 }, unique: true }],
  sessions: [{ key: { sessionId: 1 }, unique: true }],
  processors: [{ key: { processorId: 1 }, unique: true }, { key: { name: 1 }, unique: true }],
  // Not unique: WASDI's own data may hold a sharing twice, and a duplicate only repeats the same right.
  sharings: [{ key: { resourceId: 1, userId: 1 } }],
  nodes: [{ key: { nodeCode: 1 }, unique: true }],
  operations: [
    { key: { processObjId: 1 }, unique: true },
    // Sparse: operations without a key are not indexed (undefined fields are never written, see mongo-store.ts).
    { key: { idempotencyKey: 1 }, unique: true, sparse: true },
    { key: { status: 1, nodeCode: 1, operationTimestamp: 1 } },
    { key: { productName: 1, status: 1 } },
    { key: { operationTimestamp: -1 } },
    // The sweep for scheduled operations that missed their window (listMissedOperations); sparse: few have one.
    { key: { notAfter: 1 }, sparse: true },
  ],
  logs: [{ key: { processObjId: 1, seq: 1 }, unique: true }],
  logCounters: [],
  locks: [{ key: { processObjId: 1 } }],
  // One delivery per (operation, node): the unique index makes a repeated fan-out insert nothing.
  deliveries: [{ key: { operationId: 1, nodeCode: 1 }, unique: true }, { key: { state: 1, nextAttemptAt: 1 } }, { key: { createdAt: 1 } }],
  epochs: [{ key: { processorName: 1 }, unique: true }],
  syncStates: [{ key: { processorName: 1 }, unique: true }],
  events: [{ key: { at: 1 } }],
  eventCounters: [],
  eventCursors: [],
  // One number per processor: the unique index is what makes a number impossible to give twice without transactions.
  generations: [{ key: { processorName: 1, number: 1 }, unique: true }],
  packageSets: [],
  holds: [{ key: { processorName: 1, key: 1 }, unique: true }],
  batches: [{ key: { batchId: 1 }, unique: true }, { key: { userId: 1, createdAt: -1 } }, { key: { createdAt: -1 } }],
  windows: [{ key: { name: 1 }, unique: true }],
  auditIgnores: [{ key: { id: 1 }, unique: true }, { key: { createdAt: 1, id: 1 } }],
};

export async function ensureIndexes(c: Collections): Promise<void> {
  for (const [name, specs] of Object.entries(INDEXES) as [keyof Collections, IndexDescription[]][]) {
    for (const spec of specs) {
      try {
        await c[name].createIndexes([spec]);
      } catch (err) {
        // A WASDI database may already hold an index on these keys under another name (codes 85/86): it serves,
        // unless ours must be unique and that one is not.
        if (!(err instanceof MongoServerError) || !(await hasEquivalentIndex(c[name], spec))) {
          throw new Error(`cannot create index ${JSON.stringify(spec.key)} on ${c[name].collectionName}: ${(err as Error).message}`, { cause: err });
        }
      }
    }
  }
}

async function hasEquivalentIndex(collection: { listIndexes(): { toArray(): Promise<Document[]> } }, spec: IndexDescription): Promise<boolean> {
  const existing = await collection.listIndexes().toArray();
  return existing.some((index) => JSON.stringify(index.key) === JSON.stringify(spec.key) && (!spec.unique || index.unique === true));
}

/** E11000: a write hit a unique index (the server's code for duplicate keys). */
export function isDuplicateKeyError(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}

export interface FieldUpdate { $set?: Record<string, unknown>; $unset?: Record<string, ''> }

/**
 * Builds `$set`/`$unset` from a patch: a key present with `undefined` clears the field, as the embedded store does.
 * An empty operator is left out (servers before 5.0 reject `{ $set: {} }`); see `isEmptyUpdate`.
 */
export function toUpdate(patch: Record<string, unknown>): FieldUpdate {
  const $set: Record<string, unknown> = {};
  const $unset: Record<string, ''> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) $unset[key] = '';
    else $set[key] = value;
  }
  return {
    ...(Object.keys($set).length > 0 ? { $set } : {}),
    ...(Object.keys($unset).length > 0 ? { $unset } : {}),
  };
}

export function isEmptyUpdate(update: FieldUpdate): boolean {
  return update.$set === undefined && update.$unset === undefined;
}

/** Drops keys whose value is undefined, so that nothing is written as null. */
export function defined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}

export function toUser(d: UserDoc): User {
  return { userId: d.userId, role: d.role === 'ADMIN' ? 'ADMIN' : 'USER' };
}

export function toSession(d: SessionDoc): Session {
  return { sessionId: d.sessionId, userId: d.userId, loginDate: d.loginDate, lastTouch: d.lastTouch };
}

export function toProcessor(d: ProcessorDoc): Processor {
  return {
    processorId: d.processorId, name: d.name, type: d.type, userId: d.userId,
    // WASDI's default is public (reference §8: `isPublic>0`, default 1).
    isPublic: parseIsPublic(d.isPublic) ?? true,
    ...(d.python != null ? { python: d.python } : {}),
    ...(d.source != null ? { source: d.source } : {}),
  };
}

export function fromProcessor(p: Processor): ProcessorDoc {
  return defined({
    processorId: p.processorId, name: p.name, type: p.type, userId: p.userId, isPublic: p.isPublic ? 1 : 0,
    python: p.python, source: p.source,
  });
}

export function toSharing(d: SharingDoc): Sharing {
  return {
    resourceType: 'processor', resourceId: d.resourceId, userId: d.userId, ownerId: d.ownerId,
    permissions: d.permissions === 'write' ? 'write' : 'read', createdBy: d.createdBy, createdDate: d.createdDate,
  };
}

export function toNode(d: NodeDoc): Node {
  return {
    nodeCode: d.nodeCode, nodeBaseAddress: d.nodeBaseAddress ?? '',
    ...(d.nodeDescription != null ? { nodeDescription: d.nodeDescription } : {}),
    // WASDI's Node.active defaults to true.
    active: d.active ?? true,
  };
}

/** Operations are stored with their own (WASDI) field names; only Mongo's `_id` is dropped. */
export function toOperation(d: Operation & { _id?: unknown }): Operation {
  const { _id, ...operation } = d;
  return operation;
}

export const NO_ID = { _id: 0 } as const;
