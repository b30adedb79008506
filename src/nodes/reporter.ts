import type { Logger } from 'pino';
import type { Operation } from '../domain/operation.ts';
import { describeFailure, type PeerClient } from './peer-client.ts';

/**
 * Compute node → main node: the end of an operation that a delivery created, or of a catch-up, for each of the main
 * node's changes it applied (their deliveries end with it). A few quick retries; the main node also asks for
 * deliveries whose report never came, so a lost report costs only time.
 */
export class Reporter {
  constructor(private readonly peer: PeerClient, private readonly mainUrl: string, private readonly nodeCode: string, private readonly log: Logger) {}

  async report(op: Operation): Promise<void> {
    const origins = op.origin ? [op.origin.operationId] : op.sync?.origins ?? [];
    await Promise.all(origins.map((origin) => this.send(op, origin)));
  }

  private async send(op: Operation, origin: string): Promise<void> {
    const body = { status: op.status, remoteOperationId: op.processObjId, ...(op.error ? { error: op.error.message } : {}) };
    const path = `cluster/deliveries/${encodeURIComponent(origin)}/${encodeURIComponent(this.nodeCode)}`;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const res = await this.peer.postJson(this.mainUrl, path, body);
        if (res.statusCode < 500) return;
      } catch (err) {
        if (attempt === 3) this.log.warn({ operationId: op.processObjId, error: describeFailure(err) }, 'report to the main node failed');
      }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}
