import { ConflictError } from '../../domain/errors.ts';
import { operationTransitions } from '../../domain/operation-states.ts';
import type { Operation, OperationLogLine, OperationStatus } from '../../domain/operation.ts';
import type { Emit, OperationFilter, OperationStore } from '../types.ts';
import { type SqliteContext, parse, parseAll } from './context.ts';
import { Where } from './where.ts';

/**
 * Operations and their logs in the embedded store (tables processworkspace, operationlogs). Every write and the
 * events it emits are one transaction.
 */
export class SqliteOperations implements OperationStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      insertOperation: db.prepare(`INSERT INTO processworkspace (processObjId, productName, status, userId, nodeCode, operationTimestamp, leaseExpiresAt, idempotencyKey,
        notBefore, notAfter, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      findOperation: db.prepare('SELECT doc FROM processworkspace WHERE processObjId = ?').pluck(),
      findOperationByKey: db.prepare('SELECT doc FROM processworkspace WHERE idempotencyKey = ?').pluck(),
      updateOperation: db.prepare('UPDATE processworkspace SET status = ?, leaseExpiresAt = ?, notBefore = ?, notAfter = ?, doc = ? WHERE processObjId = ?'),
      // A scheduled operation outside its time is passed over, not waited for: the ones behind it may go.
      nextClaimable: db.prepare(`SELECT doc FROM processworkspace p WHERE p.status = 'CREATED' AND p.nodeCode = @nodeCode
        AND (p.notBefore IS NULL OR p.notBefore <= @now) AND (p.notAfter IS NULL OR p.notAfter > @now)
        AND NOT EXISTS (SELECT 1 FROM processworkspace r WHERE r.status = 'RUNNING' AND r.productName = p.productName)
        ORDER BY p.operationTimestamp, p.seq LIMIT 1`).pluck(),
      missed: db.prepare("SELECT doc FROM processworkspace WHERE status = 'CREATED' AND nodeCode = ? AND notAfter IS NOT NULL AND notAfter <= ? ORDER BY operationTimestamp, seq LIMIT ?").pluck(),
      lapsed: db.prepare("SELECT doc FROM processworkspace WHERE status = 'RUNNING' AND nodeCode = ? AND leaseExpiresAt < ? ORDER BY seq").pluck(),
      lastLogSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM operationlogs WHERE processObjId = ?').pluck(),
      insertLog: db.prepare('INSERT INTO operationlogs (processObjId, seq, t, stream, line) VALUES (?, ?, ?, ?, ?)'),
      readLog: db.prepare('SELECT seq, t, stream, line FROM operationlogs WHERE processObjId = ? AND seq > ? ORDER BY seq LIMIT ?'),
    };
  }

  async insertOperation(operation: Operation, emit?: Emit<Operation>): Promise<{ operation: Operation; created: boolean }> {
    return this.ctx.transaction(() => {
      if (operation.idempotencyKey !== undefined) {
        const earlier = parse<Operation>(this.stmts.findOperationByKey.get(operation.idempotencyKey));
        if (earlier) return { operation: earlier, created: false };
      }
      if (this.stmts.findOperation.get(operation.processObjId) !== undefined) {
        throw new ConflictError('OPERATION_EXISTS', `operation ${operation.processObjId} already exists`);
      }
      this.stmts.insertOperation.run(operation.processObjId, operation.productName, operation.status, operation.userId,
        operation.nodeCode, operation.operationTimestamp, operation.status === 'RUNNING' ? operation.leaseExpiresAt ?? null : null,
        operation.idempotencyKey ?? null, operation.notBefore ?? null, operation.notAfter ?? null, JSON.stringify(operation));
      this.ctx.journal(emit?.(operation));
      return { operation, created: true };
    });
  }
  async findOperation(processObjId: string): Promise<Operation | undefined> {
    return this.ctx.read(() => parse(this.stmts.findOperation.get(processObjId)));
  }
  async listOperations(filter: OperationFilter): Promise<Operation[]> {
    const w = new Where()
      .anyOf('productName', filter.processorName)
      .anyOf('status', filter.status)
      .is('userId = ?', filter.userId)
      .is('nodeCode = ?', filter.nodeCode)
      .is("json_extract(doc, '$.window') = ?", filter.window)
      .is('operationTimestamp >= ?', filter.since)
      .is('operationTimestamp <= ?', filter.until);
    const sql = `SELECT doc FROM processworkspace ${w.sql} ORDER BY operationTimestamp DESC, seq DESC LIMIT ? OFFSET ?`;
    return this.ctx.read(() => parseAll(this.ctx.prepared(sql).all(...w.args, filter.limit ?? 100, filter.offset ?? 0)));
  }
  async updateOperation(processObjId: string, from: readonly OperationStatus[], patch: Partial<Operation>, emit?: Emit<Operation>): Promise<Operation | undefined> {
    return this.ctx.transaction(() => {
      const current = parse<Operation>(this.stmts.findOperation.get(processObjId));
      if (!current || !from.includes(current.status)) return undefined;
      const next = this.writeOperation({ ...current, ...patch, processObjId });
      this.ctx.journal(emit?.(next));
      return next;
    });
  }

  private writeOperation(next: Operation): Operation {
    this.stmts.updateOperation.run(next.status, next.status === 'RUNNING' ? next.leaseExpiresAt ?? null : null, next.notBefore ?? null, next.notAfter ?? null,
      JSON.stringify(next), next.processObjId);
    return next;
  }

  async claimNextOperation(nodeCode: string, owner: string, leaseUntil: number, now: number, emit?: Emit<Operation>): Promise<Operation | undefined> {
    // BEGIN IMMEDIATE takes SQLite's write lock first, so the select and the update are one step for every process.
    return this.ctx.transaction(() => {
      const candidate = parse<Operation>(this.stmts.nextClaimable.get({ nodeCode, now }));
      if (!candidate) return undefined;
      const next = this.writeOperation({ ...candidate, ...operationTransitions.claim(owner, leaseUntil, now).patch });
      this.ctx.journal(emit?.(next));
      return next;
    });
  }

  async renewLeases(processObjIds: readonly string[], owner: string, leaseUntil: number): Promise<void> {
    await this.ctx.transaction(() => {
      for (const id of processObjIds) {
        const op = parse<Operation>(this.stmts.findOperation.get(id));
        if (op && op.status === 'RUNNING' && op.leaseOwner === owner) this.writeOperation({ ...op, leaseExpiresAt: leaseUntil });
      }
    });
  }

  async listLapsedOperations(nodeCode: string, now: number): Promise<Operation[]> {
    return this.ctx.read(() => parseAll(this.stmts.lapsed.all(nodeCode, now)));
  }

  async listMissedOperations(nodeCode: string, now: number, limit: number): Promise<Operation[]> {
    return this.ctx.read(() => parseAll(this.stmts.missed.all(nodeCode, now, limit)));
  }

  async appendOperationLog(processObjId: string, lines: readonly Omit<OperationLogLine, 'seq'>[], emit?: Emit<OperationLogLine[]>): Promise<void> {
    if (lines.length === 0) return;
    await this.ctx.transaction(() => {
      let seq = this.stmts.lastLogSeq.get(processObjId) as number;
      const stored: OperationLogLine[] = [];
      for (const l of lines) {
        this.stmts.insertLog.run(processObjId, ++seq, l.t, l.stream, l.line);
        stored.push({ seq, t: l.t, stream: l.stream, line: l.line });
      }
      this.ctx.journal(emit?.(stored));
    });
  }

  async readOperationLog(processObjId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<OperationLogLine[]> {
    return this.ctx.read(() => this.stmts.readLog.all(processObjId, options.afterSeq ?? 0, options.limit ?? 10_000) as OperationLogLine[]);
  }
}
