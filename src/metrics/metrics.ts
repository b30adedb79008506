import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProcenvEvent } from '../domain/events.ts';
import type { OperationView } from '../domain/operation.ts';
import type { EventSink } from '../events/hub.ts';
import type { Store } from '../store/types.ts';
import { RequestMetrics } from './request-metrics.ts';

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
  private readonly requests: RequestMetrics;
  private readonly ended: Counter<'result'>;
  private readonly duration: Histogram<'result'>;
  private readonly operations: Gauge<'state'>;
  private readonly queueDepth: Gauge;
  private readonly oldestQueued: Gauge;
  private readonly deliveries: Gauge<'node' | 'state'>;

  constructor(private readonly o: MetricsOptions) {
    const registers = [this.registry];
    this.requests = new RequestMetrics(this.registry, { requests: 'procenv_http_requests_total', latency: 'procenv_http_request_duration_seconds' }, SECONDS);
    this.ended = new Counter({ name: 'procenv_operations_ended_total', help: 'operations of this node that ended, by result (DONE, ERROR, STOPPED)', labelNames: ['result'], registers });
    this.duration = new Histogram({ name: 'procenv_operation_duration_seconds', help: 'how long the operations of this node ran, by result', labelNames: ['result'], buckets: OPERATION_SECONDS, registers });
    this.operations = new Gauge({ name: 'procenv_operations', help: 'operations of this node now queued (CREATED) or RUNNING', labelNames: ['state'], registers });
    this.queueDepth = new Gauge({ name: 'procenv_queue_depth', help: 'operations of this node waiting in the queue (CREATED)', registers });
    this.oldestQueued = new Gauge({ name: 'procenv_queue_oldest_age_seconds', help: 'how long the oldest queued operation of this node has waited (0: none)', registers });
    this.deliveries = new Gauge({ name: 'procenv_deliveries', help: 'main node: deliveries to each compute node now pending or failed', labelNames: ['node', 'state'], registers });
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
    this.requests.record(route, method, status, seconds);
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
    await this.readStore();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** The gauges the store answers, from one read of the queue and one of the deliveries per scrape. */
  private async readStore(): Promise<void> {
    const { store, nodeCode } = this.o;
    const [live, deliveries] = await Promise.all([
      store.listOperations({ nodeCode, status: ['CREATED', 'RUNNING'], limit: 1_000_000 }),
      store.listDeliveries({ states: ['pending', 'failed'], limit: 1_000_000 }),
    ]);
    // Newest first: the last CREATED one has waited longest.
    const queued = live.filter((op) => op.status === 'CREATED');
    this.operations.set({ state: 'CREATED' }, queued.length);
    this.operations.set({ state: 'RUNNING' }, live.length - queued.length);
    this.queueDepth.set(queued.length);
    const oldest = queued.at(-1);
    this.oldestQueued.set(oldest ? (Date.now() - oldest.operationTimestamp) / 1000 : 0);
    const counts = new Map<string, { node: string; state: string; n: number }>();
    for (const d of deliveries) {
      const key = `${d.nodeCode}\u0000${d.state}`;
      const entry = counts.get(key) ?? { node: d.nodeCode, state: d.state, n: 0 };
      entry.n++;
      counts.set(key, entry);
    }
    this.deliveries.reset();
    for (const { node, state, n } of counts.values()) this.deliveries.set({ node, state }, n);
  }
}
