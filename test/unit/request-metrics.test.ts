import test from 'ava';
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestMetrics } from '../../src/metrics/request-metrics.ts';

// The request counter and latency histogram are kept in plain numbers and shown to prom-client only when scraped;
// what a scrape shows must be what prom-client's own Counter and Histogram show for the same answers.

test('the exposition is the same as prom-client\'s Counter and Histogram for the same answers', async (t) => {
  const bounds = [0.001, 0.01, 0.1, 1];
  const answers: [string, string, number, number][] = [
    ['/packageManager/listPackages', 'GET', 200, 0.0004], ['/packageManager/listPackages', 'GET', 200, 0.003],
    ['/packageManager/listPackages', 'GET', 304, 0.02], ['/packageManager/listPackages', 'HEAD', 200, 0.001],
    ['unmatched', 'GET', 404, 0.5], ['/operations/:id', 'GET', 200, 7], ['/packageManager/listPackages', 'GET', 401, 0.01],
  ];

  const ours = new Registry();
  const metrics = new RequestMetrics(ours, { requests: 'x_requests_total', latency: 'x_request_seconds' }, bounds);
  const theirs = new Registry();
  const counter = new Counter({ name: 'x_requests_total', help: 'HTTP requests answered, by route, method and status', labelNames: ['route', 'method', 'status'], registers: [theirs] });
  const histogram = new Histogram({ name: 'x_request_seconds', help: 'time to answer an HTTP request', labelNames: ['route', 'method'], buckets: bounds, registers: [theirs] });
  for (const [route, method, status, seconds] of answers) {
    metrics.record(route, method, status, seconds);
    counter.inc({ route, method, status: String(status) });
    histogram.observe({ route, method }, seconds);
  }
  const sorted = async (r: Registry) => (await r.metrics()).split('\n').filter(Boolean).sort();
  t.deepEqual(await sorted(ours), await sorted(theirs));
  t.true((await ours.metrics()).includes('x_request_seconds_bucket{le="0.01",route="/packageManager/listPackages",method="GET"} 3'));
});

test('a registry reset clears the request series, as it does prom-client\'s', async (t) => {
  const registry = new Registry();
  const metrics = new RequestMetrics(registry, { requests: 'y_total', latency: 'y_seconds' }, [1]);
  metrics.record('/a', 'GET', 200, 0.5);
  registry.resetMetrics();
  t.false((await registry.metrics()).includes('route="/a"'));
});
