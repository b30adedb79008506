import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLUSTER_KEY_HEADER, keysMatch, ORIGIN_OPERATION_HEADER, VIA_HEADER } from '../../src/nodes/cluster-headers.ts';

/** One delivery as a compute node saw it; times are this process's `performance.now()` (sub-millisecond). */
export interface SeenDelivery {
  origin: string;
  processorId: string;
  commands: string[];
  via: string;
  receivedAt: number;
  /** When the 200 answer was handed to the socket. */
  answeredAt?: number;
}

/**
 * A FAKE compute node for the fan-out benchmark (nothing behind it): it answers
 * `GET /packageManager/environmentupdate` as a compute node does, `200 { "processObjId": "<uuid>" }`, after a fixed
 * delay (the work a real node does before it answers), and only with the right cluster key (401 otherwise, as
 * procenv). `GET /operations/:id` answers DONE, so that the main node's follow-up of a delivery ends. Every
 * delivery is recorded with its receive and answer times, so that the benchmark needs no polling to time it.
 */
export class FakeComputeNode {
  readonly nodeCode: string;
  readonly deliveries: SeenDelivery[] = [];
  /** Requests refused (wrong key) or not expected (unknown path): each one makes the run invalid. */
  refused = 0;
  unexpected = 0;
  url = '';
  private readonly server;
  private listeners: (() => void)[] = [];

  constructor(nodeCode: string, clusterKey: string, delayMs: number) {
    this.nodeCode = nodeCode;
    this.server = createServer((req, res) => {
      const receivedAt = performance.now();
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (!keysMatch(String(req.headers[CLUSTER_KEY_HEADER] ?? ''), clusterKey)) {
        this.refused++;
        json(401, { error: { code: 'UNAUTHENTICATED', message: 'the cluster key is not valid here' } });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/packageManager/environmentupdate') {
        const seen: SeenDelivery = {
          origin: String(req.headers[ORIGIN_OPERATION_HEADER] ?? ''), processorId: url.searchParams.get('processorId') ?? '',
          commands: url.searchParams.getAll('updateCommand'), via: String(req.headers[VIA_HEADER] ?? ''), receivedAt,
        };
        this.deliveries.push(seen);
        setTimeout(() => {
          res.once('finish', () => {
            seen.answeredAt = performance.now();
            for (const l of this.listeners) l();
          });
          json(200, { processObjId: randomUUID() });
        }, delayMs);
        return;
      }
      const op = /^\/operations\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && op) {
        json(200, { processObjId: op[1], status: 'DONE' });
        return;
      }
      this.unexpected++;
      json(404, { error: { code: 'NOT_FOUND', message: 'not a path of this fake' } });
    });
    // Keep-alive longer than any pause of the benchmark, so that connections are reused as on a busy cluster.
    this.server.keepAliveTimeout = 65_000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The answered deliveries of one origin operation. */
  answered(origin: string): SeenDelivery[] {
    return this.deliveries.filter((d) => d.origin === origin && d.answeredAt !== undefined);
  }

  /** Calls `fn` after each answer (the benchmark waits on this instead of polling). */
  onAnswer(fn: () => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
