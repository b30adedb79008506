import test from 'ava';
import { SAMPLES, assertError, endpointPath, json, pollUntil, rawGet, serviceFor, tokenHeader } from './support.ts';

// listPackages, managerVersion and environmentActions are answered ahead of the router (exact routes), with the
// session and the processor read from one-second caches. These tests hold that path to what the router gave:
// the same answers, methods, ids and metrics, and the same security within the caches' second.

const LIST = endpointPath('listPackages', SAMPLES.pip);

test('the exact path, a trailing slash and other letter case answer the same list; other methods 405 with Allow', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  const exact = await rawGet(svc, LIST, auth);
  t.is(exact.status, 200);
  t.true(Array.isArray(json(exact)));
  // @koa/router matches a trailing slash and any case; the router still answers them.
  const slash = await rawGet(svc, `/packageManager/listPackages/?name=${SAMPLES.pip.name}`, auth);
  const upper = await rawGet(svc, `/PACKAGEMANAGER/listpackages?name=${SAMPLES.pip.name}`, auth);
  t.is(slash.status, 200);
  t.is(slash.body, exact.body);
  t.is(upper.body, exact.body);
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await rawGet(svc, LIST, auth, method);
    assertError(t, res, 405, 'METHOD_NOT_ALLOWED');
    t.regex(String(res.headers.allow), /\bGET\b/);
  }
  const head = await rawGet(svc, LIST, auth, 'HEAD');
  t.is(head.status, 200);
  t.is(head.body, '');
  t.is(head.headers.etag, exact.headers.etag);
});

test('a missing or repeated name, a missing token: the same errors as before the fast path', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  assertError(t, await rawGet(svc, '/packageManager/listPackages', auth), 400, 'MISSING_PARAMETER');
  assertError(t, await rawGet(svc, '/packageManager/listPackages?name=a&name=b', auth), 400, 'REPEATED_PARAMETER');
  assertError(t, await rawGet(svc, LIST), 401, 'UNAUTHENTICATED');
  assertError(t, await rawGet(svc, '/packageManager/managerVersion?name=', auth), 400, 'MISSING_PARAMETER');
  // Percent-encoding and `+` decode as koa's query did.
  t.is((await rawGet(svc, `/packageManager/listPackages?name=${encodeURIComponent(SAMPLES.pip.name).replace('_', '%5F')}`, auth)).status, 200);
});

test('x-request-id: a sane one is echoed, any other is replaced, and the ids made here differ', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  t.is((await rawGet(svc, LIST, { ...auth, 'x-request-id': 'trace-42.a:b' })).headers['x-request-id'], 'trace-42.a:b');
  const replaced = (await rawGet(svc, LIST, { ...auth, 'x-request-id': 'bad id <script>' })).headers['x-request-id'];
  t.regex(String(replaced), /^[0-9a-f]{12}-[0-9a-z]+$/);
  const ids = new Set<string>();
  for (let i = 0; i < 20; i++) ids.add(String((await rawGet(svc, i % 2 ? LIST : '/no/such/route', auth)).headers['x-request-id']));
  t.is(ids.size, 20);
});

test('a deleted session is refused within the cache\'s second, and a processor given to another owner too', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const oneshot = endpointPath('listPackages', SAMPLES.oneshot);
  t.is((await rawGet(svc, LIST, tokenHeader(token))).status, 200);
  t.is((await rawGet(svc, oneshot, tokenHeader(token))).status, 200);

  // The owner of the private sample loses it to another user: refused once the processor cache's second is over.
  const processor = (await svc.store.findProcessorByName(SAMPLES.oneshot.name))!;
  await svc.store.saveProcessor({ ...processor, userId: 'someone-else' });
  const lost = await pollUntil(() => rawGet(svc, oneshot, tokenHeader(token)), (res) => res.status === 403, { timeoutMs: 5_000, intervalMs: 50 });
  t.true(lost.elapsedMs < 2_000, `still served ${lost.elapsedMs} ms after the change`);
  assertError(t, lost.value, 403, 'PROCESSOR_NOT_ACCESSIBLE');

  await svc.store.removeSession(token);
  const refused = await pollUntil(() => rawGet(svc, LIST, tokenHeader(token)), (res) => res.status === 401, { timeoutMs: 5_000, intervalMs: 50 });
  t.true(refused.elapsedMs < 2_000, `still accepted ${refused.elapsedMs} ms after the session was removed`);
});

test('the metrics count the exact routes under their pattern, with their statuses', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  await rawGet(svc, LIST, auth);
  await rawGet(svc, LIST, auth);
  await rawGet(svc, '/packageManager/listPackages', auth);
  await rawGet(svc, `/packageManager/listPackages/?name=${SAMPLES.pip.name}`, auth);
  const text = (await rawGet(svc, '/metrics')).body;
  t.true(text.includes('procenv_http_requests_total{route="/packageManager/listPackages",method="GET",status="200"} 3'), text);
  t.true(text.includes('procenv_http_requests_total{route="/packageManager/listPackages",method="GET",status="400"} 1'), text);
  t.regex(text, /procenv_http_request_duration_seconds_count\{route="\/packageManager\/listPackages",method="GET"\} 4/);
});
