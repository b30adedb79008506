import test from 'ava';
import { Counter, Histogram, Registry } from 'prom-client';
import { PlainCounter, PlainHistogram, registerPlain } from '../../src/metrics/plain.ts';

// Request and operation metrics are kept in plain numbers and shown to prom-client only when scraped; what a scrape
// shows must be what prom-client's own Counter and Histogram show for the same observations.

test('the exposition is the same as prom-client\'s Counter and Histogram for the same observations', async (t) => {
  const bounds = [0.001, 0.01, 0.1, 1];
  const answers: [string, string, number, number][] = [
    ['/packageManager/listPackages', 'GET', 200, 0.0004], ['/packageManager/listPackages', 'GET', 200, 0.003],
    ['/packageManager/listPackages', 'GET', 304, 0.02], ['/packageManager/listPackages', 'HEAD', 200, 0.001],
    ['unmatched', 'GET', 404, 0.5], ['/operations/:id', 'GET', 200, 7], ['/packageManager/listPackages', 'GET', 401, 0.01],
  ];

  const ours = new Registry();
  const requests = new PlainCounter('x_requests_total', 'HTTP requests answered, by route, method and status');
  const latency = new PlainHistogram('x_request_seconds', 'time to answer an HTTP request', bounds);
  registerPlain(ours, requests);
  registerPlain(ours, latency);
  const theirs = new Registry();
  const counter = new Counter({ name: 'x_requests_total', help: 'HTTP requests answered, by route, method and status', labelNames: ['route', 'method', 'status'], registers: [theirs] });
  const histogram = new Histogram({ name: 'x_request_seconds', help: 'time to answer an HTTP request', labelNames: ['route', 'method'], buckets: bounds, registers: [theirs] });
  for (const [route, method, status, seconds] of answers) {
    requests.inc(`${method} ${route} ${status}`, () => ({ route, method, status: String(status) }));
    latency.observe(`${method} ${route}`, () => ({ route, method }), seconds);
    counter.inc({ route, method, status: String(status) });
    histogram.observe({ route, method }, seconds);
  }
  const lines = async (r: Registry) => (await r.metrics()).split('\n').filter(Boolean).sort();
  t.deepEqual(await lines(ours), await lines(theirs));
  t.true((await ours.metrics()).includes('x_request_seconds_bucket{le="0.01",route="/packageManager/listPackages",method="GET"} 3'));
});

test('a registry reset clears the plain series, as it does prom-client\'s', async (t) => {
  const registry = new Registry();
  const counter = new PlainCounter('y_total', 'y');
  registerPlain(registry, counter);
  counter.inc('a', () => ({ route: '/a' }));
  registry.resetMetrics();
  t.false((await registry.metrics()).includes('route="/a"'));
});
