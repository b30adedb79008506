import type { Registry } from 'prom-client';

interface Series {
  route: string;
  method: string;
  /** Answers by status. */
  statuses: Map<number, number>;
  /** Answers whose latency is at most each bound (not cumulative; summed when scraped). */
  buckets: Float64Array;
  sum: number;
  count: number;
}

type MetricValue = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * The HTTP request counter and latency histogram, kept in plain numbers per (route, method) and turned into
 * prom-client's metric form only when scraped. prom-client's own `inc` and `observe` hash and validate a label
 * object on every call, which on the hottest route cost as much as the rest of procenv's own work per request.
 * The exposition is the same as prom-client's Counter and Histogram would give.
 */
export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  constructor(registry: Registry, private readonly names: { requests: string; latency: string }, private readonly bounds: readonly number[]) {
    registry.registerMetric(this.metric(names.requests, 'HTTP requests answered, by route, method and status', 'counter', () => this.counterValues()));
    registry.registerMetric(this.metric(names.latency, 'time to answer an HTTP request', 'histogram', () => this.histogramValues()));
  }

  /** One answer. `route` is a route pattern, never a raw path: the series stay as few as the routes. */
  record(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let s = this.series.get(key);
    if (!s) {
      s = { route, method, statuses: new Map(), buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
    s.count++;
    s.sum += seconds;
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= this.bounds[i]!) {
        s.buckets[i]!++;
        break;
      }
    }
  }

  private counterValues(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      for (const [status, n] of s.statuses) values.push({ labels: { route: s.route, method: s.method, status: String(status) }, value: n });
    }
    return values;
  }

  private histogramValues(): MetricValue[] {
    const values: MetricValue[] = [];
    const bucket = `${this.names.latency}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.buckets[i]!;
        values.push({ labels: { le, route: s.route, method: s.method }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', route: s.route, method: s.method }, value: s.count, metricName: bucket });
      values.push({ labels: { route: s.route, method: s.method }, value: s.sum, metricName: `${this.names.latency}_sum` });
      values.push({ labels: { route: s.route, method: s.method }, value: s.count, metricName: `${this.names.latency}_count` });
    }
    return values;
  }

  /** An object in the shape prom-client's registry reads from its own metrics (`get()`), as its custom collectors do. */
  private metric(name: string, help: string, type: 'counter' | 'histogram', values: () => MetricValue[]) {
    return {
      name, help, type, aggregator: 'sum' as const,
      get: async () => ({ name, help, type, aggregator: 'sum' as const, values: values() }),
      reset: () => this.series.clear(),
    } as unknown as Parameters<Registry['registerMetric']>[0];
  }
}
