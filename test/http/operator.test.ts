import { renameSync } from 'node:fs';
import test from 'ava';
import { startTestService } from '../helpers/service.ts';
import { openEvents } from '../helpers/sse.ts';
import { waitUntil } from '../helpers/cluster.ts';

test('GET /health answers without a token and says nothing more than ok', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const res = await svc.http.get('health');
  t.is(res.statusCode, 200);
  t.deepEqual(JSON.parse(res.body), { status: 'ok' });
});

test('GET /ready names the part that does not work: the worker, the processors folder; 200 once all do', async (t) => {
  const ready = await startTestService({ 'catalog.folderCheckMs': 100 });
  t.teardown(() => ready.close());
  const ok = await ready.http.get('ready');
  t.is(ok.statusCode, 200, ok.body);
  t.deepEqual(JSON.parse(ok.body), { status: 'ready' });

  const moved = `${ready.config.processorsDir}.away`;
  renameSync(ready.config.processorsDir, moved);
  const gone = await waitUntil('not ready', async () => {
    const res = await ready.http.get('ready');
    return res.statusCode === 503 ? res : undefined;
  });
  t.deepEqual(JSON.parse(gone.body), { status: 'not ready', failing: ['processorsFolder'] });
  renameSync(moved, ready.config.processorsDir);
  await waitUntil('ready again', async () => (await ready.http.get('ready')).statusCode === 200);

  const idle = await startTestService({}, { worker: false });
  t.teardown(() => idle.close());
  const res = await idle.http.get('ready');
  t.is(res.statusCode, 503);
  t.deepEqual(JSON.parse(res.body), { status: 'not ready', failing: ['worker'] });
});

test('GET /metrics: requests by route and status, the queue, operations by result, open streams', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const headers = { 'x-session-token': token };
  await svc.http.get('packageManager/listPackages', { headers, searchParams: { name: 'sample_pip' } });
  await svc.http.get('packageManager/listPackages', { headers, searchParams: { name: 'sample_pip' } });
  await svc.http.get('packageManager/listPackages', { searchParams: { name: 'sample_pip' } });
  await svc.http.get('no/such/route');
  const queue = async () => JSON.parse((await svc.http.post('processors/sample_pip/operations', { headers, json: { commands: [] } })).body).processObjId;
  await queue();
  const cancelled = await queue();
  await svc.http.post(`operations/${cancelled}/cancel`, { headers });
  const stream = await openEvents(svc.url, { headers });
  t.teardown(() => stream.close());

  const text = await waitUntil('the cancel counted', async () => {
    const body = (await svc.http.get('metrics')).body;
    return body.includes('procenv_operations_ended_total{result="STOPPED"} 1') ? body : undefined;
  });
  const res = await svc.http.get('metrics');
  t.regex(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  t.true(text.includes('procenv_http_requests_total{route="/packageManager/listPackages",method="GET",status="200"} 2'), text);
  t.true(text.includes('procenv_http_requests_total{route="/packageManager/listPackages",method="GET",status="401"} 1'));
  t.true(text.includes('procenv_http_requests_total{route="unmatched",method="GET",status="404"} 1'), 'unknown paths share one label');
  t.regex(text, /procenv_http_request_duration_seconds_bucket\{le="0.005",route="\/packageManager\/listPackages",method="GET"\} \d/);
  t.true(text.includes('procenv_queue_depth 1'));
  t.true(text.includes('procenv_operations{state="CREATED"} 1'));
  t.true(text.includes('procenv_operations{state="RUNNING"} 0'));
  t.regex(text, /procenv_queue_oldest_age_seconds \d/);
  t.true(text.includes('procenv_operation_duration_seconds_count{result="STOPPED"} 1'));
  t.true(text.includes('procenv_event_streams 1'));
  t.false(text.includes(token), 'no token in the metrics');
});

test('GET /metrics guarded by PROCENV_METRICS_TOKEN: 401 without the bearer token, 200 with it', async (t) => {
  const secret = 'metrics-secret-0123456789';
  const svc = await startTestService({ metricsToken: secret }, { worker: false });
  t.teardown(() => svc.close());
  const none = await svc.http.get('metrics');
  t.is(none.statusCode, 401);
  t.is(none.headers['www-authenticate'], 'Bearer');
  t.false(none.body.includes(secret));
  t.is((await svc.http.get('metrics', { headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
  t.is((await svc.http.get('metrics', { headers: { authorization: `Bearer ${secret}` } })).statusCode, 200);
  t.is((await svc.http.get('health')).statusCode, 200, 'health needs no token');
});
