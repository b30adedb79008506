import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { ConflictError } from '../../domain/errors.ts';
import type { Delivery, DeliveryFilter, SyncState } from '../../domain/cluster.ts';
import { eventOf, type EventDraft, type ProcenvEvent } from '../../domain/events.ts';
import { operationTransitions } from '../../domain/operation-states.ts';
import type { Operation, OperationLogLine, OperationStatus } from '../../domain/operation.ts';
import type { Processor } from '../../domain/processor.ts';
import type { Session, Sharing, User } from '../../domain/user.ts';
import type { Emit, Node, OperationFilter, Store } from '../types.ts';
import { SQLITE_BUSY_TIMEOUT_MS, withBusyRetry } from './busy-retry.ts';
import { StoreFileGuard } from './file-guard.ts';

/**
 * The embedded store: one SQLite file (WAL) under the data folder. Each table keeps the record as JSON in `doc`
 * plus the columns it is looked up by, so that the records keep WASDI's field names in both adapters.
 */
const SCHEMA_VERSION = 2;

const MIGRATIONS: string[] = [
  `CREATE TABLE users (userId TEXT PRIMARY KEY, doc TEXT NOT NULL);
   CREATE TABLE sessions (sessionId TEXT PRIMARY KEY, userId TEXT NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE processors (processorId TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
   CREATE TABLE userresourcepermissions (resourceId TEXT NOT NULL, userId TEXT NOT NULL, doc TEXT NOT NULL,
     PRIMARY KEY (resourceId, userId));
   CREATE TABLE nodes (nodeCode TEXT PRIMARY KEY, doc TEXT NOT NULL);
   CREATE TABLE processworkspace (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     processObjId TEXT NOT NULL UNIQUE,
     productName TEXT NOT NULL,
     status TEXT NOT NULL,
     userId TEXT NOT NULL,
     nodeCode TEXT NOT NULL,
     operationTimestamp INTEGER NOT NULL,
     leaseExpiresAt INTEGER,
     idempotencyKey TEXT UNIQUE,
     doc TEXT NOT NULL);
   CREATE INDEX processworkspace_product ON processworkspace (productName, seq);
   CREATE INDEX processworkspace_status ON processworkspace (status, nodeCode, seq);
   CREATE TABLE operationlogs (processObjId TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL,
     stream TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (processObjId, seq)) WITHOUT ROWID;
   CREATE TABLE deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, operationId TEXT NOT NULL, nodeCode TEXT NOT NULL,
     state TEXT NOT NULL, nextAttemptAt INTEGER NOT NULL, doc TEXT NOT NULL, UNIQUE (operationId, nodeCode));
   CREATE INDEX deliveries_due ON deliveries (state, nextAttemptAt);
   CREATE TABLE historyepochs (processorName TEXT PRIMARY KEY, epoch TEXT NOT NULL);
   CREATE TABLE syncstates (processorName TEXT PRIMARY KEY, doc TEXT NOT NULL);`,
  // The event journal: AUTOINCREMENT so that an id is never given twice, also after the newest events were pruned.
  `CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE INDEX events_at ON events (at);`,
];

export interface SqliteStoreOptions {
  /** How long one call waits in all for a store locked by another process (default 5,000 ms). */
  busyWaitMs?: number;
  /** Where a store file deleted or replaced under the service is reported. */
  log?: Logger;
}

export class SqliteStore implements Store {
  readonly kind = 'embedded' as const;
  readonly db: Database.Database;
  private readonly stmts;
  private readonly busyWaitMs: number;
  private readonly guard?: StoreFileGuard;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.busyWaitMs = options.busyWaitMs ?? 5_000;
    this.db = new Database(file);
    // Opening (WAL switch, migrations) happens once, before anything is served: it may wait inside SQLite.
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    // From here on a lock held by another process is waited for between attempts (withBusyRetry), not inside a
    // synchronous call that would stop the event loop: every request would wait with it.
    this.db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    if (file !== ':memory:') this.guard = new StoreFileGuard(file, options.log);
    const db = this.db;
    this.stmts = {
      saveUser: db.prepare('INSERT INTO users (userId, doc) VALUES (?, ?) ON CONFLICT (userId) DO UPDATE SET doc = excluded.doc'),
      findUser: db.prepare('SELECT doc FROM users WHERE userId = ?').pluck(),
      saveSession: db.prepare('INSERT INTO sessions (sessionId, userId, doc) VALUES (?, ?, ?) ON CONFLICT (sessionId) DO UPDATE SET userId = excluded.userId, doc = excluded.doc'),
      findSession: db.prepare('SELECT doc FROM sessions WHERE sessionId = ?').pluck(),
      touchSession: db.prepare("UPDATE sessions SET doc = json_set(doc, '$.lastTouch', ?) WHERE sessionId = ?"),
      removeSession: db.prepare('DELETE FROM sessions WHERE sessionId = ?'),
      saveProcessor: db.prepare('INSERT INTO processors (processorId, name, doc) VALUES (?, ?, ?) ON CONFLICT (processorId) DO UPDATE SET name = excluded.name, doc = excluded.doc'),
      processorIdByName: db.prepare('SELECT processorId FROM processors WHERE name = ?').pluck(),
      findProcessorById: db.prepare('SELECT doc FROM processors WHERE processorId = ?').pluck(),
      findProcessorByName: db.prepare('SELECT doc FROM processors WHERE name = ?').pluck(),
      listProcessors: db.prepare('SELECT doc FROM processors ORDER BY name').pluck(),
      removeProcessor: db.prepare('DELETE FROM processors WHERE processorId = ?'),
      saveSharing: db.prepare('INSERT INTO userresourcepermissions (resourceId, userId, doc) VALUES (?, ?, ?) ON CONFLICT (resourceId, userId) DO UPDATE SET doc = excluded.doc'),
      findSharing: db.prepare('SELECT doc FROM userresourcepermissions WHERE resourceId = ? AND userId = ?').pluck(),
      listSharings: db.prepare('SELECT doc FROM userresourcepermissions WHERE resourceId = ? ORDER BY userId').pluck(),
      saveNode: db.prepare('INSERT INTO nodes (nodeCode, doc) VALUES (?, ?) ON CONFLICT (nodeCode) DO UPDATE SET doc = excluded.doc'),
      findNode: db.prepare('SELECT doc FROM nodes WHERE nodeCode = ?').pluck(),
      listNodes: db.prepare('SELECT doc FROM nodes ORDER BY nodeCode').pluck(),
      insertOperation: db.prepare('INSERT INTO processworkspace (processObjId, productName, status, userId, nodeCode, operationTimestamp, leaseExpiresAt, idempotencyKey, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      findOperation: db.prepare('SELECT doc FROM processworkspace WHERE processObjId = ?').pluck(),
      findOperationByKey: db.prepare('SELECT doc FROM processworkspace WHERE idempotencyKey = ?').pluck(),
      updateOperation: db.prepare('UPDATE processworkspace SET status = ?, leaseExpiresAt = ?, doc = ? WHERE processObjId = ?'),
      nextClaimable: db.prepare(`SELECT doc FROM processworkspace p WHERE p.status = 'CREATED' AND p.nodeCode = ?
        AND NOT EXISTS (SELECT 1 FROM processworkspace r WHERE r.status = 'RUNNING' AND r.productName = p.productName)
        ORDER BY p.operationTimestamp, p.seq LIMIT 1`).pluck(),
      lapsed: db.prepare("SELECT doc FROM processworkspace WHERE status = 'RUNNING' AND nodeCode = ? AND leaseExpiresAt < ? ORDER BY seq").pluck(),
      lastLogSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM operationlogs WHERE processObjId = ?').pluck(),
      insertLog: db.prepare('INSERT INTO operationlogs (processObjId, seq, t, stream, line) VALUES (?, ?, ?, ?, ?)'),
      insertDelivery: db.prepare('INSERT INTO deliveries (operationId, nodeCode, state, nextAttemptAt, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT (operationId, nodeCode) DO NOTHING'),
      findDelivery: db.prepare('SELECT doc FROM deliveries WHERE operationId = ? AND nodeCode = ?').pluck(),
      updateDelivery: db.prepare('UPDATE deliveries SET state = ?, nextAttemptAt = ?, doc = ? WHERE operationId = ? AND nodeCode = ?'),
      findEpoch: db.prepare('SELECT epoch FROM historyepochs WHERE processorName = ?').pluck(),
      saveEpoch: db.prepare('INSERT INTO historyepochs (processorName, epoch) VALUES (?, ?) ON CONFLICT (processorName) DO UPDATE SET epoch = excluded.epoch'),
      findSyncState: db.prepare('SELECT doc FROM syncstates WHERE processorName = ?').pluck(),
      saveSyncState: db.prepare('INSERT INTO syncstates (processorName, doc) VALUES (?, ?) ON CONFLICT (processorName) DO UPDATE SET doc = excluded.doc'),
      readLog: db.prepare('SELECT seq, t, stream, line FROM operationlogs WHERE processObjId = ? AND seq > ? ORDER BY seq LIMIT ?'),
      insertEvent: db.prepare('INSERT INTO events (at, doc) VALUES (?, ?)'),
      readEvents: db.prepare('SELECT id, doc FROM events WHERE id > ? ORDER BY id LIMIT ?'),
      firstEvent: db.prepare('SELECT MIN(id) FROM events').pluck(),
      lastEvent: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck(),
      pruneEventsByCount: db.prepare('DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)'),
      pruneEventsByAge: db.prepare('DELETE FROM events WHERE at < ?'),
    };
  }

  /** Statements built from a filter's shape, prepared once per shape (there are few). */
  private readonly byShape = new Map<string, Database.Statement>();

  private prepared(sql: string): Database.Statement {
    let stmt = this.byShape.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql).pluck();
      this.byShape.set(sql, stmt);
    }
    return stmt;
  }

  /** Journals events inside the caller's transaction. */
  private journal(drafts: readonly EventDraft[] | undefined): void {
    if (!drafts) return;
    for (const d of drafts) this.stmts.insertEvent.run(d.at, JSON.stringify(d));
  }

  /** A read: retried while the store is busy. Reads go on while the store file is missing (nothing is lost). */
  private read<T>(step: () => T): Promise<T> {
    return withBusyRetry(step, this.busyWaitMs);
  }

  /** A change: refused while the store file is not the one opened, retried while the store is busy. */
  private write<T>(step: () => T): Promise<T> {
    return withBusyRetry(step, this.busyWaitMs, this.guard ? () => this.guard!.assertIntact() : undefined);
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(`the store file was written by a newer procenv (schema ${current}, this one knows ${SCHEMA_VERSION})`);
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  async saveUser(user: User): Promise<void> {
    await this.write(() => this.stmts.saveUser.run(user.userId, JSON.stringify(user)));
  }
  async findUser(userId: string): Promise<User | undefined> {
    return this.read(() => parse(this.stmts.findUser.get(userId)));
  }

  async saveSession(session: Session): Promise<void> {
    await this.write(() => this.stmts.saveSession.run(session.sessionId, session.userId, JSON.stringify(session)));
  }
  async findSession(sessionId: string): Promise<Session | undefined> {
    return this.read(() => parse(this.stmts.findSession.get(sessionId)));
  }
  async touchSession(sessionId: string, at: number): Promise<void> {
    await this.write(() => this.stmts.touchSession.run(at, sessionId));
  }
  async removeSession(sessionId: string): Promise<void> {
    await this.write(() => this.stmts.removeSession.run(sessionId));
  }

  async saveProcessor(processor: Processor): Promise<void> {
    await this.write(() => this.db.transaction(() => {
      const holder = this.stmts.processorIdByName.get(processor.name) as string | undefined;
      if (holder !== undefined && holder !== processor.processorId) {
        throw new ConflictError('PROCESSOR_NAME_TAKEN', `processor name "${processor.name}" is already registered by another processorId`);
      }
      this.stmts.saveProcessor.run(processor.processorId, processor.name, JSON.stringify(processor));
    }).immediate());
  }
  async findProcessorById(processorId: string): Promise<Processor | undefined> {
    return this.read(() => parse(this.stmts.findProcessorById.get(processorId)));
  }
  async findProcessorByName(name: string): Promise<Processor | undefined> {
    return this.read(() => parse(this.stmts.findProcessorByName.get(name)));
  }
  async listProcessors(): Promise<Processor[]> {
    return this.read(() => parseAll(this.stmts.listProcessors.all()));
  }
  async removeProcessor(processorId: string): Promise<void> {
    await this.write(() => this.stmts.removeProcessor.run(processorId));
  }

  async saveSharing(sharing: Sharing): Promise<void> {
    await this.write(() => this.stmts.saveSharing.run(sharing.resourceId, sharing.userId, JSON.stringify(sharing)));
  }
  async findSharing(resourceId: string, userId: string): Promise<Sharing | undefined> {
    return this.read(() => parse(this.stmts.findSharing.get(resourceId, userId)));
  }
  async listSharings(resourceId: string): Promise<Sharing[]> {
    return this.read(() => parseAll(this.stmts.listSharings.all(resourceId)));
  }

  async saveNode(node: Node): Promise<void> {
    await this.write(() => this.stmts.saveNode.run(node.nodeCode, JSON.stringify(node)));
  }
  async findNode(nodeCode: string): Promise<Node | undefined> {
    return this.read(() => parse(this.stmts.findNode.get(nodeCode)));
  }
  async listNodes(): Promise<Node[]> {
    return this.read(() => parseAll(this.stmts.listNodes.all()));
  }

  async insertOperation(operation: Operation, emit?: Emit<Operation>): Promise<{ operation: Operation; created: boolean }> {
    return this.write(() => this.db.transaction(() => {
      if (operation.idempotencyKey !== undefined) {
        const earlier = parse<Operation>(this.stmts.findOperationByKey.get(operation.idempotencyKey));
        if (earlier) return { operation: earlier, created: false };
      }
      if (this.stmts.findOperation.get(operation.processObjId) !== undefined) {
        throw new ConflictError('OPERATION_EXISTS', `operation ${operation.processObjId} already exists`);
      }
      this.stmts.insertOperation.run(operation.processObjId, operation.productName, operation.status, operation.userId,
        operation.nodeCode, operation.operationTimestamp, operation.status === 'RUNNING' ? operation.leaseExpiresAt ?? null : null,
        operation.idempotencyKey ?? null, JSON.stringify(operation));
      this.journal(emit?.(operation));
      return { operation, created: true };
    }).immediate());
  }
  async findOperation(processObjId: string): Promise<Operation | undefined> {
    return this.read(() => parse(this.stmts.findOperation.get(processObjId)));
  }
  async listOperations(filter: OperationFilter): Promise<Operation[]> {
    const w = new Where()
      .anyOf('productName', filter.processorName)
      .anyOf('status', filter.status)
      .is('userId = ?', filter.userId)
      .is('nodeCode = ?', filter.nodeCode)
      .is('operationTimestamp >= ?', filter.since)
      .is('operationTimestamp <= ?', filter.until);
    const sql = `SELECT doc FROM processworkspace ${w.sql} ORDER BY operationTimestamp DESC, seq DESC LIMIT ? OFFSET ?`;
    return this.read(() => parseAll(this.prepared(sql).all(...w.args, filter.limit ?? 100, filter.offset ?? 0)));
  }
  async updateOperation(processObjId: string, from: readonly OperationStatus[], patch: Partial<Operation>, emit?: Emit<Operation>): Promise<Operation | undefined> {
    return this.write(() => this.db.transaction(() => {
      const current = parse<Operation>(this.stmts.findOperation.get(processObjId));
      if (!current || !from.includes(current.status)) return undefined;
      const next = this.writeOperation({ ...current, ...patch, processObjId });
      this.journal(emit?.(next));
      return next;
    }).immediate());
  }

  private writeOperation(next: Operation): Operation {
    this.stmts.updateOperation.run(next.status, next.status === 'RUNNING' ? next.leaseExpiresAt ?? null : null, JSON.stringify(next), next.processObjId);
    return next;
  }

  async claimNextOperation(nodeCode: string, owner: string, leaseUntil: number, now: number, emit?: Emit<Operation>): Promise<Operation | undefined> {
    // BEGIN IMMEDIATE takes SQLite's write lock first, so the select and the update are one step for every process.
    return this.write(() => this.db.transaction(() => {
      const candidate = parse<Operation>(this.stmts.nextClaimable.get(nodeCode));
      if (!candidate) return undefined;
      const next = this.writeOperation({ ...candidate, ...operationTransitions.claim(owner, leaseUntil, now).patch });
      this.journal(emit?.(next));
      return next;
    }).immediate());
  }

  async renewLeases(processObjIds: readonly string[], owner: string, leaseUntil: number): Promise<void> {
    await this.write(() => this.db.transaction(() => {
      for (const id of processObjIds) {
        const op = parse<Operation>(this.stmts.findOperation.get(id));
        if (op && op.status === 'RUNNING' && op.leaseOwner === owner) this.writeOperation({ ...op, leaseExpiresAt: leaseUntil });
      }
    }).immediate());
  }

  async listLapsedOperations(nodeCode: string, now: number): Promise<Operation[]> {
    return this.read(() => parseAll(this.stmts.lapsed.all(nodeCode, now)));
  }

  async appendOperationLog(processObjId: string, lines: readonly Omit<OperationLogLine, 'seq'>[], emit?: Emit<OperationLogLine[]>): Promise<void> {
    if (lines.length === 0) return;
    await this.write(() => this.db.transaction(() => {
      let seq = this.stmts.lastLogSeq.get(processObjId) as number;
      const stored: OperationLogLine[] = [];
      for (const l of lines) {
        this.stmts.insertLog.run(processObjId, ++seq, l.t, l.stream, l.line);
        stored.push({ seq, t: l.t, stream: l.stream, line: l.line });
      }
      this.journal(emit?.(stored));
    }).immediate());
  }

  async readOperationLog(processObjId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<OperationLogLine[]> {
    return this.read(() => this.stmts.readLog.all(processObjId, options.afterSeq ?? 0, options.limit ?? 10_000) as OperationLogLine[]);
  }

  async insertDeliveries(deliveries: readonly Delivery[], emit?: Emit<Delivery[]>): Promise<void> {
    await this.write(() => this.db.transaction(() => {
      const inserted = deliveries.filter((d) => this.stmts.insertDelivery.run(d.operationId, d.nodeCode, d.state, d.nextAttemptAt, JSON.stringify(d)).changes === 1);
      if (inserted.length) this.journal(emit?.(inserted));
    }).immediate());
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Delivery[]> {
    const w = new Where()
      .is('operationId = ?', filter.operationId)
      .is('nodeCode = ?', filter.nodeCode)
      .anyOf('state', filter.states)
      .is("state = 'pending' AND nextAttemptAt <= ?", filter.dueBefore);
    const sql = `SELECT doc FROM deliveries ${w.sql} ORDER BY seq LIMIT ?`;
    return this.read(() => parseAll(this.prepared(sql).all(...w.args, filter.limit ?? 10_000)));
  }

  async updateDelivery(operationId: string, nodeCode: string, from: readonly Delivery['state'][], patch: Partial<Delivery>, emit?: Emit<Delivery>): Promise<Delivery | undefined> {
    return this.write(() => this.db.transaction(() => {
      const current = parse<Delivery>(this.stmts.findDelivery.get(operationId, nodeCode));
      if (!current || !from.includes(current.state)) return undefined;
      const next: Delivery = { ...current, ...patch, operationId, nodeCode };
      this.stmts.updateDelivery.run(next.state, next.nextAttemptAt, JSON.stringify(next), operationId, nodeCode);
      this.journal(emit?.(next));
      return next;
    }).immediate());
  }

  async findHistoryEpoch(processorName: string): Promise<string> {
    return this.read(() => (this.stmts.findEpoch.get(processorName) as string | undefined) ?? '0');
  }

  async newHistoryEpoch(processorName: string): Promise<string> {
    const epoch = randomUUID();
    await this.write(() => this.stmts.saveEpoch.run(processorName, epoch));
    return epoch;
  }

  async findSyncState(processorName: string): Promise<SyncState | undefined> {
    return this.read(() => parse(this.stmts.findSyncState.get(processorName)));
  }

  async saveSyncState(state: SyncState): Promise<void> {
    await this.write(() => this.stmts.saveSyncState.run(state.processorName, JSON.stringify(state)));
  }

  async appendEvents(drafts: readonly EventDraft[]): Promise<void> {
    if (drafts.length === 0) return;
    await this.write(() => this.db.transaction(() => this.journal(drafts)).immediate());
  }

  async readEvents(afterId: number, limit: number): Promise<ProcenvEvent[]> {
    return this.read(() => (this.stmts.readEvents.all(afterId, limit) as { id: number; doc: string }[])
      .map((row) => eventOf(row.id, JSON.parse(row.doc) as EventDraft)));
  }

  async eventBounds(): Promise<{ first: number | undefined; last: number }> {
    return this.read(() => ({
      first: (this.stmts.firstEvent.get() as number | null) ?? undefined,
      last: (this.stmts.lastEvent.get() as number | undefined) ?? 0,
    }));
  }

  async pruneEvents(keep: number, olderThan: number): Promise<number> {
    return this.write(() => this.db.transaction(() =>
      this.stmts.pruneEventsByCount.run(keep).changes + this.stmts.pruneEventsByAge.run(olderThan).changes).immediate());
  }

  async close(): Promise<void> {
    this.guard?.stop();
    if (this.db.open) this.db.close();
  }
}

/** A WHERE clause built from the filter fields that are set; the values go as parameters, never into the SQL. */
class Where {
  private readonly parts: string[] = [];
  readonly args: unknown[] = [];

  /** A condition with one `?`, kept only when the value is given. */
  is(condition: string, value: unknown): this {
    if (value !== undefined) {
      this.parts.push(condition);
      this.args.push(value);
    }
    return this;
  }

  /** `column IN (…)` for one value or several (an empty list matches nothing). */
  anyOf(column: string, value: string | readonly string[] | undefined): this {
    if (value === undefined) return this;
    const values = typeof value === 'string' ? [value] : value;
    this.parts.push(`${column} IN (${values.map(() => '?').join(', ') || 'NULL'})`);
    this.args.push(...values);
    return this;
  }

  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

function parse<T>(doc: unknown): T | undefined {
  return typeof doc === 'string' ? (JSON.parse(doc) as T) : undefined;
}

function parseAll<T>(docs: unknown[]): T[] {
  return docs.map((d) => JSON.parse(d as string) as T);
}
