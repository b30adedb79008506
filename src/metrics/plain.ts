import type { Registry } from 'prom-client';

/** A series' label values by label name, in the order they are shown. */
export type Labels = Readonly<Record<string, string>>;

/** One line of a metric as prom-client's registry reads it from a metric's `get()`. */
interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/**
 * A counter kept in plain numbers. prom-client's own `inc` hashes and validates a label object on every call, which
 * on the hottest route cost as much as the rest of procenv's work per request; here a series is found by a key the
 * caller builds (any string unique to its label values) and its labels are made once, when it first counts.
 */
export class PlainCounter {
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(readonly name: string, readonly help: string) {}

  inc(key: string, labels: () => Labels, n = 1): void {
    const s = this.series.get(key);
    if (s) s.value += n;
    else this.series.set(key, { labels: labels(), value: n });
  }

  values(): MetricValue[] {
    return [...this.series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
  }

  reset(): void {
    this.series.clear();
  }
}

/** A histogram kept in plain numbers (see PlainCounter), with prom-client's exposition: cumulative `le` buckets, sum, count. */
export class PlainHistogram {
  private readonly series = new Map<string, { labels: Labels; buckets: Float64Array; sum: number; count: number }>();

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {}

  observe(key: string, labels: () => Labels, value: number): void {
    let s = this.series.get(key);
    if (!s) {
      s = { labels: labels(), buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += value;
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]!) {
        s.buckets[i]!++;
        break;
      }
    }
  }

  values(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.buckets[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return values;
  }

  reset(): void {
    this.series.clear();
  }
}

/** Shows a plain metric in a prom-client registry, in the shape the registry reads from its own metrics. */
export function registerPlain(registry: Registry, metric: PlainCounter | PlainHistogram): void {
  const { name, help } = metric;
  const type = metric instanceof PlainCounter ? 'counter' : 'histogram';
  registry.registerMetric({
    name, help, type, aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: metric.values() }),
    reset: () => metric.reset(),
  } as unknown as Parameters<Registry['registerMetric']>[0]);
}
