import type { Gauge, Registry } from 'prom-client';
import type { ProcenvEvent } from '../domain/events.ts';
import type { OperationView } from '../domain/operation.ts';
import type { EventSink } from '../events/hub.ts';
import type { Store } from '../store/types.ts';
import { PlainCounter, PlainHistogram, registerPlain } from './plain.ts';

export interface MetricsOptions {
  store: Store;
  nodeCode: string;
  /** Open event streams now. */
  openStreams: () => number;
  /** Events journaled but not yet confirmed by the RabbitMQ broker (absent: no bridge). */
  publishLag?: () => Promise<number | undefined>;
}

/** What the first scrape makes: the registry, and the gauges each scrape reads from the store. */
interface Exposition {
  registry: Registry;
  operations: Gauge<'state'>;
  queueDepth: Gauge;
  oldestQueued: Gauge;
  deliveries: Gauge<'node' | 'state'>;
}

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OPERATION_SECONDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * procenv's Prometheus metrics, in a registry of its own (two services in one process never share counters).
 * Counters of requests and operations are kept in plain numbers from the start (requests from the HTTP middleware,
 * operations from the event journal: the registry is an event sink); prom-client is loaded at the first scrape, when
 * the registry is made and the gauges of the queue and the deliveries are read from the store. A node nobody scrapes
 * never loads it (about eighty modules with its tracing dependency).
 */
export class Metrics implements EventSink {
  private readonly requests = new PlainCounter('procenv_http_requests_total', 'HTTP requests answered, by route, method and status');
  private readonly latency = new PlainHistogram('procenv_http_request_duration_seconds', 'time to answer an HTTP request', SECONDS);
  private readonly ended = new PlainCounter('procenv_operations_ended_total', 'operations of this node that ended, by result (DONE, ERROR, STOPPED)');
  private readonly duration = new PlainHistogram('procenv_operation_duration_seconds', 'how long the operations of this node ran, by result', OPERATION_SECONDS);
  private exposition?: Promise<Exposition>;

  constructor(private readonly o: MetricsOptions) {}

  /** One answered request; `route` is the matched route's pattern (never the raw path: it would grow without bound). */
  request(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    this.requests.inc(`${key} ${status}`, () => ({ route, method, status: String(status) }));
    this.latency.observe(key, () => ({ route, method }), seconds);
  }

  deliver(events: readonly ProcenvEvent[]): void {
    for (const e of events) {
      if (e.type !== 'operation.ended') continue;
      const op = e.operation as OperationView | undefined;
      if (!op || op.nodeCode !== this.o.nodeCode) continue;
      const result = op.status;
      this.ended.inc(result, () => ({ result }));
      if (op.durationMs !== undefined) this.duration.observe(result, () => ({ result }), op.durationMs / 1000);
    }
  }

  reset(): void {
    // Counters count what this process saw; a gap in the journal is not filled in.
  }

  async text(): Promise<{ contentType: string; body: string }> {
    const exposition = await (this.exposition ??= this.openRegistry());
    await this.readStore(exposition);
    return { contentType: exposition.registry.contentType, body: await exposition.registry.metrics() };
  }

  private async openRegistry(): Promise<Exposition> {
    const { Gauge, Registry } = await import('prom-client');
    const registry = new Registry();
    for (const metric of [this.requests, this.latency, this.ended, this.duration]) registerPlain(registry, metric);
    const registers = [registry];
    const exposition: Exposition = {
      registry,
      operations: new Gauge({ name: 'procenv_operations', help: 'operations of this node now queued (CREATED) or RUNNING', labelNames: ['state'], registers }),
      queueDepth: new Gauge({ name: 'procenv_queue_depth', help: 'operations of this node waiting in the queue (CREATED)', registers }),
      oldestQueued: new Gauge({ name: 'procenv_queue_oldest_age_seconds', help: 'how long the oldest queued operation of this node has waited (0: none)', registers }),
      deliveries: new Gauge({ name: 'procenv_deliveries', help: 'main node: deliveries to each compute node now pending or failed', labelNames: ['node', 'state'], registers }),
    };
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
    return exposition;
  }

  /** The gauges the store answers, from one read of the queue and one of the deliveries per scrape. */
  private async readStore(x: Exposition): Promise<void> {
    const { store, nodeCode } = this.o;
    const [live, deliveries] = await Promise.all([
      store.listOperations({ nodeCode, status: ['CREATED', 'RUNNING'], limit: 1_000_000 }),
      store.listDeliveries({ states: ['pending', 'failed'], limit: 1_000_000 }),
    ]);
    // Newest first: the last CREATED one has waited longest.
    const queued = live.filter((op) => op.status === 'CREATED');
    x.operations.set({ state: 'CREATED' }, queued.length);
    x.operations.set({ state: 'RUNNING' }, live.length - queued.length);
    x.queueDepth.set(queued.length);
    const oldest = queued.at(-1);
    x.oldestQueued.set(oldest ? (Date.now() - oldest.operationTimestamp) / 1000 : 0);
    const counts = new Map<string, { node: string; state: string; n: number }>();
    for (const d of deliveries) {
      const key = `${d.nodeCode}\u0000${d.state}`;
      const entry = counts.get(key) ?? { node: d.nodeCode, state: d.state, n: 0 };
      entry.n++;
      counts.set(key, entry);
    }
    x.deliveries.reset();
    for (const { node, state, n } of counts.values()) x.deliveries.set({ node, state }, n);
  }
}
