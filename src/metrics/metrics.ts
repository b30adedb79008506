import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProcenvEvent } from '../domain/events.ts';
import type { OperationView } from '../domain/operation.ts';
import type { EventSink } from '../events/hub.ts';
import type { Store } from '../store/types.ts';

export interface MetricsOptions {
  store: Store;
  nodeCode: string;
  /** Open event streams now. */
  openStreams: () => number;
  /** Events journaled but not yet confirmed by the RabbitMQ broker (absent: no bridge). */
  publishLag?: () => Promise<number | undefined>;
}

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OPERATION_SECONDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * procenv's Prometheus metrics, in a registry of its own (two services in one process never share counters).
 * Counters of operations follow the event journal (the registry is an event sink); gauges of the queue and the
 * deliveries are read from the store when scraped; request metrics come from the HTTP middleware.
 */
export class Metrics implements EventSink {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly latency: Histogram<'route' | 'method'>;
  private readonly ended: Counter<'result'>;
  private readonly duration: Histogram<'result'>;

  constructor(private readonly o: MetricsOptions) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'procenv_http_requests_total', help: 'HTTP requests answered, by route, method and status', labelNames: ['route', 'method', 'status'], registers });
    this.latency = new Histogram({ name: 'procenv_http_request_duration_seconds', help: 'time to answer an HTTP request', labelNames: ['route', 'method'], buckets: SECONDS, registers });
    this.ended = new Counter({ name: 'procenv_operations_ended_total', help: 'operations of this node that ended, by result (DONE, ERROR, STOPPED)', labelNames: ['result'], registers });
    this.duration = new Histogram({ name: 'procenv_operation_duration_seconds', help: 'how long the operations of this node ran, by result', labelNames: ['result'], buckets: OPERATION_SECONDS, registers });
    const store = this.o.store;
    const nodeCode = this.o.nodeCode;
    new Gauge({
      name: 'procenv_operations', help: 'operations of this node now queued (CREATED) or RUNNING', labelNames: ['state'], registers,
      async collect() {
        for (const state of ['CREATED', 'RUNNING'] as const) {
          this.set({ state }, (await store.listOperations({ nodeCode, status: state, limit: 1_000_000 })).length);
        }
      },
    });
    new Gauge({
      name: 'procenv_queue_depth', help: 'operations of this node waiting in the queue (CREATED)', registers,
      async collect() {
        this.set((await store.listOperations({ nodeCode, status: 'CREATED', limit: 1_000_000 })).length);
      },
    });
    new Gauge({
      name: 'procenv_queue_oldest_age_seconds', help: 'how long the oldest queued operation of this node has waited (0: none)', registers,
      async collect() {
        const queued = await store.listOperations({ nodeCode, status: 'CREATED', limit: 1_000_000 });
        const oldest = queued.at(-1);
        this.set(oldest ? (Date.now() - oldest.operationTimestamp) / 1000 : 0);
      },
    });
    new Gauge({
      name: 'procenv_deliveries', help: 'main node: deliveries to each compute node now pending or failed', labelNames: ['node', 'state'], registers,
      async collect() {
        this.reset();
        for (const state of ['pending', 'failed'] as const) {
          const counts = new Map<string, number>();
          for (const d of await store.listDeliveries({ states: [state], limit: 1_000_000 })) counts.set(d.nodeCode, (counts.get(d.nodeCode) ?? 0) + 1);
          for (const [node, n] of counts) this.set({ node, state }, n);
        }
      },
    });
    const openStreams = this.o.openStreams;
    new Gauge({
      name: 'procenv_event_streams', help: 'event streams (GET /events) open on this process', registers,
      collect() {
        this.set(openStreams());
      },
    });
    const lag = this.o.publishLag;
    if (lag) {
      new Gauge({
        name: 'procenv_rabbitmq_publish_lag_events', help: 'events journaled that the RabbitMQ broker has not confirmed yet', registers,
        async collect() {
          const n = await lag();
          if (n !== undefined) this.set(n);
        },
      });
    }
  }

  /** One answered request; `route` is the matched route's pattern (never the raw path: it would grow without bound). */
  request(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.latency.observe({ route, method }, seconds);
  }

  deliver(events: readonly ProcenvEvent[]): void {
    for (const e of events) {
      if (e.type !== 'operation.ended') continue;
      const op = e.operation as OperationView | undefined;
      if (!op || op.nodeCode !== this.o.nodeCode) continue;
      this.ended.inc({ result: op.status });
      if (op.durationMs !== undefined) this.duration.observe({ result: op.status }, op.durationMs / 1000);
    }
  }

  reset(): void {
    // Counters count what this process saw; a gap in the journal is not filled in.
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
