import type { Logger } from 'pino';
import type { Operation } from '../domain/operation.ts';
import { describeFailure, type PeerClient } from './peer-client.ts';

/**
 * Compute node → main node: the end of an operation that a delivery created. A few quick retries; the main
 * node also asks for deliveries whose report never came, so a lost report costs only time.
 */
export class Reporter {
  constructor(private readonly peer: PeerClient, private readonly mainUrl: string, private readonly nodeCode: string, private readonly log: Logger) {}

  async report(op: Operation): Promise<void> {
    if (!op.origin) return;
    const body = { status: op.status, remoteOperationId: op.processObjId, ...(op.error ? { error: op.error.message } : {}) };
    const path = `cluster/deliveries/${encodeURIComponent(op.origin.operationId)}/${encodeURIComponent(this.nodeCode)}`;
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
