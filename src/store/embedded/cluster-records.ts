import { randomUUID } from 'node:crypto';
import type { Delivery, DeliveryFilter, SyncState } from '../../domain/cluster.ts';
import type { ClusterStore, Emit, Node } from '../types.ts';
import { type SqliteContext, parse, parseAll } from './context.ts';
import { Where } from './where.ts';

/**
 * The cluster in the embedded store: compute nodes, the main node's deliveries and history epochs, a compute
 * node's sync states (tables nodes, deliveries, historyepochs, syncstates).
 */
export class SqliteClusterRecords implements ClusterStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      saveNode: db.prepare('INSERT INTO nodes (nodeCode, doc) VALUES (?, ?) ON CONFLICT (nodeCode) DO UPDATE SET doc = excluded.doc'),
      findNode: db.prepare('SELECT doc FROM nodes WHERE nodeCode = ?').pluck(),
      listNodes: db.prepare('SELECT doc FROM nodes ORDER BY nodeCode').pluck(),
      insertDelivery: db.prepare('INSERT INTO deliveries (operationId, nodeCode, state, nextAttemptAt, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT (operationId, nodeCode) DO NOTHING'),
      findDelivery: db.prepare('SELECT doc FROM deliveries WHERE operationId = ? AND nodeCode = ?').pluck(),
      updateDelivery: db.prepare('UPDATE deliveries SET state = ?, nextAttemptAt = ?, doc = ? WHERE operationId = ? AND nodeCode = ?'),
      findEpoch: db.prepare('SELECT epoch FROM historyepochs WHERE processorName = ?').pluck(),
      saveEpoch: db.prepare('INSERT INTO historyepochs (processorName, epoch) VALUES (?, ?) ON CONFLICT (processorName) DO UPDATE SET epoch = excluded.epoch'),
      findSyncState: db.prepare('SELECT doc FROM syncstates WHERE processorName = ?').pluck(),
      saveSyncState: db.prepare('INSERT INTO syncstates (processorName, doc) VALUES (?, ?) ON CONFLICT (processorName) DO UPDATE SET doc = excluded.doc'),
    };
  }

  async saveNode(node: Node): Promise<void> {
    await this.ctx.write(() => this.stmts.saveNode.run(node.nodeCode, JSON.stringify(node)));
  }
  async findNode(nodeCode: string): Promise<Node | undefined> {
    return this.ctx.read(() => parse(this.stmts.findNode.get(nodeCode)));
  }
  async listNodes(): Promise<Node[]> {
    return this.ctx.read(() => parseAll(this.stmts.listNodes.all()));
  }

  async insertDeliveries(deliveries: readonly Delivery[], emit?: Emit<Delivery[]>): Promise<void> {
    await this.ctx.transaction(() => {
      const inserted = deliveries.filter((d) => this.stmts.insertDelivery.run(d.operationId, d.nodeCode, d.state, d.nextAttemptAt, JSON.stringify(d)).changes === 1);
      if (inserted.length) this.ctx.journal(emit?.(inserted));
    });
  }

  async listDeliveries(filter: DeliveryFilter): Promise<Delivery[]> {
    const w = new Where()
      .is('operationId = ?', filter.operationId)
      .is('nodeCode = ?', filter.nodeCode)
      .anyOf('state', filter.states)
      .is("state = 'pending' AND nextAttemptAt <= ?", filter.dueBefore);
    const sql = `SELECT doc FROM deliveries ${w.sql} ORDER BY seq LIMIT ?`;
    return this.ctx.read(() => parseAll(this.ctx.prepared(sql).all(...w.args, filter.limit ?? 10_000)));
  }

  async updateDelivery(operationId: string, nodeCode: string, from: readonly Delivery['state'][], patch: Partial<Delivery>, emit?: Emit<Delivery>): Promise<Delivery | undefined> {
    return this.ctx.transaction(() => {
      const current = parse<Delivery>(this.stmts.findDelivery.get(operationId, nodeCode));
      if (!current || !from.includes(current.state)) return undefined;
      const next: Delivery = { ...current, ...patch, operationId, nodeCode };
      this.stmts.updateDelivery.run(next.state, next.nextAttemptAt, JSON.stringify(next), operationId, nodeCode);
      this.ctx.journal(emit?.(next));
      return next;
    });
  }

  async findHistoryEpoch(processorName: string): Promise<string> {
    return this.ctx.read(() => (this.stmts.findEpoch.get(processorName) as string | undefined) ?? '0');
  }

  async newHistoryEpoch(processorName: string): Promise<string> {
    const epoch = randomUUID();
    await this.ctx.write(() => this.stmts.saveEpoch.run(processorName, epoch));
    return epoch;
  }

  async findSyncState(processorName: string): Promise<SyncState | undefined> {
    return this.ctx.read(() => parse(this.stmts.findSyncState.get(processorName)));
  }

  async saveSyncState(state: SyncState): Promise<void> {
    await this.ctx.write(() => this.stmts.saveSyncState.run(state.processorName, JSON.stringify(state)));
  }
}
