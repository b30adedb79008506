import type { Logger } from 'pino';
import { withoutCredentials, type Delivery } from '../domain/cluster.ts';
import type { Operation, RunOptions } from '../domain/operation.ts';
import { deliveryTransitions } from '../domain/operation-states.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { Node, Store } from '../store/types.ts';
import { SerialRunner } from '../util/serial-runner.ts';
import { describeFailure, type PeerClient } from './peer-client.ts';

export interface FanoutOptions {
  store: Store;
  lifecycle: Lifecycle;
  peer: PeerClient;
  log: Logger;
  nodeCode: string;
  concurrency: number;
  retryBaseMs: number;
  retryMaxMs: number;
  deadlineMs: number;
  /** A delivered operation not reported back within this long is asked for (ms). */
  followUpMs?: number;
}

/**
 * Main node → compute nodes, durably (replaces WASDI's sequential fire-and-forget loop, reference §6). Every
 * accepted change gets one stored delivery per active compute node before anything is sent; deliveries go out
 * concurrently up to a limit, in order per node and processor (a later change never overtakes an earlier one),
 * and are retried with exponential backoff and full jitter until accepted or past the deadline. A restart resumes
 * what was pending. A delivered change is then followed to its end: the compute node reports it, and a delivery
 * with no report is asked for.
 */
export class FanoutService {
  private readonly o: FanoutOptions;
  private readonly inFlight = new Set<string>();
  private readonly lastContact = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private readonly pumper = new SerialRunner(async () => {
    clearTimeout(this.timer);
    const nextDue = await this.pump().catch((err) => {
      this.o.log.error({ err }, 'fan-out pump failed');
      return undefined;
    });
    if (this.stopped) return;
    const delay = Math.max(10, Math.min((nextDue ?? Infinity) - Date.now(), 1000));
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  });
  private stopped = true;
  private lastFollowUp = 0;
  private followingUp?: Promise<void>;

  constructor(options: FanoutOptions) {
    this.o = options;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.inFlight.size || this.pumper.busy || this.followingUp) await new Promise((r) => setTimeout(r, 20));
  }

  /** When a node last answered a node-to-node call (ms), if it has since this process started. */
  lastContactOf(nodeCode: string): number | undefined {
    return this.lastContact.get(nodeCode);
  }

  noteContact(nodeCode: string): void {
    this.lastContact.set(nodeCode, Date.now());
  }

  /** Stores a delivery per active compute node for an operation with commands. */
  async enqueue(op: Operation): Promise<number> {
    if (op.commands.length === 0) return 0;
    const now = Date.now();
    const nodes = (await this.o.store.listNodes()).filter((n) => n.active && n.nodeCode !== this.o.nodeCode);
    const options = runOptionsOf(op);
    const deliveries: Delivery[] = nodes.map((n) => ({
      operationId: op.processObjId, nodeCode: n.nodeCode, processorId: op.processorId, processorName: op.productName,
      commands: op.commands, ...(options ? { options } : {}), userId: op.userId, workspaceId: op.workspaceId, state: 'pending', attempts: 0,
      nextAttemptAt: now, deadlineAt: now + this.o.deadlineMs, createdAt: now, updatedAt: now,
    }));
    if (deliveries.length) {
      await this.o.lifecycle.createDeliveries(deliveries);
      this.o.log.info({ operationId: op.processObjId, nodes: deliveries.map((d) => d.nodeCode) }, 'fan-out queued');
      this.wake();
    }
    return deliveries.length;
  }

  /** Records a compute node's report of the end of its operation. */
  async report(operationId: string, nodeCode: string, result: { status: string; remoteOperationId?: string; error?: string }): Promise<Delivery | undefined> {
    this.noteContact(nodeCode);
    const t = deliveryTransitions.reported(result.status, Date.now(), {
      ...(result.remoteOperationId ? { remoteOperationId: result.remoteOperationId } : {}), ...(result.error ? { error: result.error } : {}),
    });
    const updated = await this.o.lifecycle.moveDelivery({ operationId, nodeCode }, t);
    if (updated) this.o.log.info({ operationId, node: nodeCode, state: t.to }, 'delivery result');
    return updated;
  }

  wake(): void {
    if (!this.stopped) this.pumper.trigger();
  }

  /** Sends what is due; answers when the next pending delivery falls due. */
  private async pump(): Promise<number | undefined> {
    const now = Date.now();
    const pending = await this.o.store.listDeliveries({ states: ['pending'] });
    const nodes = new Map((await this.o.store.listNodes()).map((n) => [n.nodeCode, n]));
    const blocked = new Set<string>();
    let nextDue: number | undefined;
    for (const d of pending) {
      const key = `${d.nodeCode}\u0000${d.processorName}`;
      if (blocked.has(key)) continue;
      blocked.add(key);
      if (this.inFlight.has(this.idOf(d))) continue;
      if (d.nextAttemptAt > now) {
        nextDue = Math.min(nextDue ?? Infinity, d.nextAttemptAt);
        continue;
      }
      if (this.inFlight.size >= this.o.concurrency) {
        nextDue = now;
        break;
      }
      this.send(d, nodes.get(d.nodeCode));
    }
    // The follow-up runs beside the pump, never inside it: it asks nodes one after the other, and a node that
    // accepts connections but does not answer would otherwise hold back every new delivery for its whole length
    // (measured: a change waited 24 s behind 24 follow-ups of a hanging node, at a 1 s request timeout).
    if (!this.followingUp && now - this.lastFollowUp >= (this.o.followUpMs ?? 5000)) {
      this.lastFollowUp = now;
      this.followingUp = this.followUp(nodes)
        .catch((err) => this.o.log.error({ err }, 'fan-out follow-up failed'))
        .finally(() => {
          this.followingUp = undefined;
        });
    }
    return nextDue;
  }

  private idOf(d: Delivery): string {
    return `${d.operationId}\u0000${d.nodeCode}`;
  }

  private send(d: Delivery, node: Node | undefined): void {
    const id = this.idOf(d);
    this.inFlight.add(id);
    void this.attempt(d, node)
      .catch((err) => this.o.log.error({ err, operationId: d.operationId, node: d.nodeCode }, 'delivery attempt failed'))
      .finally(() => {
        this.inFlight.delete(id);
        this.wake();
      });
  }

  private async attempt(d: Delivery, node: Node | undefined): Promise<void> {
    const now = Date.now();
    const log = this.o.log.child({ operationId: d.operationId, node: d.nodeCode });
    if (!node || !node.active) {
      await this.finish(d, 'skipped', 'the node is no longer registered or active');
      return;
    }
    if (now > d.deadlineAt) {
      await this.finish(d, 'failed', `not accepted before the deadline; last error: ${d.lastError ?? 'none'}`);
      log.warn('delivery failed: deadline passed');
      return;
    }
    const attempts = d.attempts + 1;
    let verdict: { state: 'delivered' | 'skipped' | 'failed' | 'retry'; error?: string; remoteOperationId?: string };
    try {
      const res = await this.o.peer.environmentUpdate(node.nodeBaseAddress, {
        processorId: d.processorId, workspace: d.workspaceId, commands: d.commands, userId: d.userId, originOperationId: d.operationId,
        ...(d.options ? { options: d.options } : {}),
      });
      verdict = classify(res.statusCode, res.body);
      if (res.statusCode < 500) this.noteContact(d.nodeCode);
    } catch (err) {
      verdict = { state: 'retry', error: describeFailure(err) };
    }
    if (verdict.state === 'retry') {
      const delay = Math.random() * Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(attempts - 1, 30));
      await this.o.lifecycle.moveDelivery(d, deliveryTransitions.retry(attempts, Date.now() + delay, verdict.error ?? 'no answer', Date.now()));
      log.warn({ attempts, error: verdict.error, retryInMs: Math.round(delay) }, 'delivery will be retried');
      return;
    }
    await this.o.lifecycle.moveDelivery(d, deliveryTransitions.answered(verdict.state, attempts, Date.now(), {
      ...(verdict.error ? { error: verdict.error } : {}), ...(verdict.remoteOperationId ? { remoteOperationId: verdict.remoteOperationId } : {}),
    }));
    log.info({ state: verdict.state, attempts }, 'delivery answered');
  }

  private async finish(d: Delivery, state: 'skipped' | 'failed', error: string): Promise<void> {
    await this.o.lifecycle.moveDelivery(d, deliveryTransitions.givenUp(state, error, Date.now()));
  }

  /** Delivered changes whose report did not arrive: ask the node how its operation ended. */
  private async followUp(nodes: Map<string, Node>): Promise<void> {
    const cutoff = Date.now() - (this.o.followUpMs ?? 5000);
    for (const d of await this.o.store.listDeliveries({ states: ['delivered'], limit: 100 })) {
      if (this.stopped) return;
      const node = nodes.get(d.nodeCode);
      if (!node || !d.remoteOperationId || d.updatedAt > cutoff) continue;
      try {
        const res = await this.o.peer.getJson(node.nodeBaseAddress, `operations/${encodeURIComponent(d.remoteOperationId)}`);
        if (res.statusCode !== 200) continue;
        this.noteContact(d.nodeCode);
        const op = JSON.parse(res.body) as Operation;
        if (op.status === 'DONE' || op.status === 'ERROR' || op.status === 'STOPPED') {
          await this.report(d.operationId, d.nodeCode, { status: op.status, remoteOperationId: op.processObjId, ...(op.error ? { error: op.error.message } : {}) });
        } else {
          await this.o.lifecycle.moveDelivery(d, deliveryTransitions.stillRunning(Date.now()));
        }
      } catch {
        // The node is down; its delivery stays delivered and the sync brings it in step when it is back.
      }
    }
  }
}

/**
 * What an answer to a delivery means. 2xx: accepted. 400 PROCESSOR_NOT_FOUND: the processor is not on that node
 * (WASDI's compute launcher also skips it). 508: a forwarding loop, final. 401/403: the node refused the key, which
 * an operator can fix, so it is retried. Any other 4xx: the node refused the change, final. 5xx: retried.
 */
export function classify(status: number, body: string): { state: 'delivered' | 'skipped' | 'failed' | 'retry'; error?: string; remoteOperationId?: string } {
  let json: { processObjId?: string; error?: { code?: string; message?: string } } = {};
  try {
    json = JSON.parse(body);
  } catch {
    // not JSON: judged by the status alone
  }
  // The node's own message is shown to the change's owner and logged: no URL credentials, whatever it quotes.
  const reason = json.error?.message ? withoutCredentials(`${status} ${json.error.code ?? ''}: ${json.error.message}`).slice(0, 300) : `HTTP ${status}`;
  if (status >= 200 && status < 300) return { state: 'delivered', ...(json.processObjId ? { remoteOperationId: json.processObjId } : {}) };
  if (status === 400 && json.error?.code === 'PROCESSOR_NOT_FOUND') return { state: 'skipped', error: 'the processor is not on this node' };
  if (status === 508) return { state: 'failed', error: reason };
  if (status === 401 || status === 403 || status === 429 || status >= 500) return { state: 'retry', error: reason };
  return { state: 'failed', error: reason };
}

/** What of an operation's way of running its commands a compute node must know; undefined for the usual way. */
export function runOptionsOf(op: Pick<Operation, 'exact' | 'rollbackOnFailure'>): RunOptions | undefined {
  const options: RunOptions = { ...(op.exact ? { exact: true } : {}), ...(op.rollbackOnFailure ? { rollbackOnFailure: true } : {}) };
  return Object.keys(options).length ? options : undefined;
}
