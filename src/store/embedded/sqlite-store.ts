import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ConflictError } from '../../domain/errors.ts';
import type { Operation, OperationStatus } from '../../domain/operation.ts';
import type { Processor } from '../../domain/processor.ts';
import type { Session, Sharing, User } from '../../domain/user.ts';
import type { Node, OperationFilter, Store } from '../types.ts';

/**
 * The embedded store: one SQLite file (WAL) under the data folder. Each table keeps the record as JSON in `doc`
 * plus the columns it is looked up by, so that the records keep WASDI's field names in both adapters.
 */
const SCHEMA_VERSION = 1;

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
     idempotencyKey TEXT UNIQUE,
     doc TEXT NOT NULL);
   CREATE INDEX processworkspace_product ON processworkspace (productName, seq);
   CREATE INDEX processworkspace_status ON processworkspace (status, seq);`,
];

export class SqliteStore implements Store {
  readonly kind = 'embedded' as const;
  readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
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
      insertOperation: db.prepare('INSERT INTO processworkspace (processObjId, productName, status, userId, idempotencyKey, doc) VALUES (?, ?, ?, ?, ?, ?)'),
      findOperation: db.prepare('SELECT doc FROM processworkspace WHERE processObjId = ?').pluck(),
      findOperationByKey: db.prepare('SELECT doc FROM processworkspace WHERE idempotencyKey = ?').pluck(),
      updateOperation: db.prepare('UPDATE processworkspace SET status = ?, doc = ? WHERE processObjId = ?'),
    };
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
    this.stmts.saveUser.run(user.userId, JSON.stringify(user));
  }
  async findUser(userId: string): Promise<User | undefined> {
    return parse(this.stmts.findUser.get(userId));
  }

  async saveSession(session: Session): Promise<void> {
    this.stmts.saveSession.run(session.sessionId, session.userId, JSON.stringify(session));
  }
  async findSession(sessionId: string): Promise<Session | undefined> {
    return parse(this.stmts.findSession.get(sessionId));
  }
  async touchSession(sessionId: string, at: number): Promise<void> {
    this.stmts.touchSession.run(at, sessionId);
  }
  async removeSession(sessionId: string): Promise<void> {
    this.stmts.removeSession.run(sessionId);
  }

  async saveProcessor(processor: Processor): Promise<void> {
    const holder = this.stmts.processorIdByName.get(processor.name) as string | undefined;
    if (holder !== undefined && holder !== processor.processorId) {
      throw new ConflictError('PROCESSOR_NAME_TAKEN', `processor name "${processor.name}" is already registered by another processorId`);
    }
    this.stmts.saveProcessor.run(processor.processorId, processor.name, JSON.stringify(processor));
  }
  async findProcessorById(processorId: string): Promise<Processor | undefined> {
    return parse(this.stmts.findProcessorById.get(processorId));
  }
  async findProcessorByName(name: string): Promise<Processor | undefined> {
    return parse(this.stmts.findProcessorByName.get(name));
  }
  async listProcessors(): Promise<Processor[]> {
    return parseAll(this.stmts.listProcessors.all());
  }
  async removeProcessor(processorId: string): Promise<void> {
    this.stmts.removeProcessor.run(processorId);
  }

  async saveSharing(sharing: Sharing): Promise<void> {
    this.stmts.saveSharing.run(sharing.resourceId, sharing.userId, JSON.stringify(sharing));
  }
  async findSharing(resourceId: string, userId: string): Promise<Sharing | undefined> {
    return parse(this.stmts.findSharing.get(resourceId, userId));
  }
  async listSharings(resourceId: string): Promise<Sharing[]> {
    return parseAll(this.stmts.listSharings.all(resourceId));
  }

  async saveNode(node: Node): Promise<void> {
    this.stmts.saveNode.run(node.nodeCode, JSON.stringify(node));
  }
  async findNode(nodeCode: string): Promise<Node | undefined> {
    return parse(this.stmts.findNode.get(nodeCode));
  }
  async listNodes(): Promise<Node[]> {
    return parseAll(this.stmts.listNodes.all());
  }

  async insertOperation(operation: Operation): Promise<{ operation: Operation; created: boolean }> {
    return this.db.transaction(() => {
      if (operation.idempotencyKey !== undefined) {
        const earlier = parse<Operation>(this.stmts.findOperationByKey.get(operation.idempotencyKey));
        if (earlier) return { operation: earlier, created: false };
      }
      this.stmts.insertOperation.run(operation.processObjId, operation.productName, operation.status, operation.userId,
        operation.idempotencyKey ?? null, JSON.stringify(operation));
      return { operation, created: true };
    }).immediate();
  }
  async findOperation(processObjId: string): Promise<Operation | undefined> {
    return parse(this.stmts.findOperation.get(processObjId));
  }
  async listOperations(filter: OperationFilter): Promise<Operation[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.processorName !== undefined) { where.push('productName = ?'); args.push(filter.processorName); }
    if (filter.status !== undefined) { where.push('status = ?'); args.push(filter.status); }
    if (filter.userId !== undefined) { where.push('userId = ?'); args.push(filter.userId); }
    const sql = `SELECT doc FROM processworkspace ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ? OFFSET ?`;
    args.push(filter.limit ?? 100, filter.offset ?? 0);
    return parseAll(this.db.prepare(sql).pluck().all(...args));
  }
  async updateOperation(processObjId: string, from: readonly OperationStatus[], patch: Partial<Operation>): Promise<Operation | undefined> {
    return this.db.transaction(() => {
      const current = parse<Operation>(this.stmts.findOperation.get(processObjId));
      if (!current || !from.includes(current.status)) return undefined;
      const next: Operation = { ...current, ...patch, processObjId };
      this.stmts.updateOperation.run(next.status, JSON.stringify(next), processObjId);
      return next;
    }).immediate();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function parse<T>(doc: unknown): T | undefined {
  return typeof doc === 'string' ? (JSON.parse(doc) as T) : undefined;
}

function parseAll<T>(docs: unknown[]): T[] {
  return docs.map((d) => JSON.parse(d as string) as T);
}
