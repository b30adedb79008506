import test from 'ava';
import { SAMPLES, assertError, endpointPath, json, rawGet, serviceFor, tokenHeader, writeProcessorFolder } from './support.ts';

// Sessions (WASDI's getUserFromSession, reference §8), routes outside the five endpoints, and a processor folder
// that appears while the service runs, seen from the endpoints' side.

const get = (svc: Parameters<typeof rawGet>[0], path: string, token?: string) => rawGet(svc, path, tokenHeader(token));

test('an expired session answers 401; one used within the idle limit is accepted', async (t) => {
  const svc = await serviceFor(t, { sessionIdleMinutes: 30 });
  await svc.store.saveUser({ userId: 'demo', role: 'USER' });
  const now = Date.now();
  await svc.store.saveSession({ sessionId: 'stale-token', userId: 'demo', loginDate: now - 3_600_000, lastTouch: now - 31 * 60_000 });
  await svc.store.saveSession({ sessionId: 'fresh-token', userId: 'demo', loginDate: now - 3_600_000, lastTouch: now - 29 * 60_000 });
  const stale = await get(svc, endpointPath('listPackages', SAMPLES.pip), 'stale-token');
  assertError(t, stale, 401, 'UNAUTHENTICATED');
  t.is((await get(svc, endpointPath('listPackages', SAMPLES.pip), 'fresh-token')).status, 200);
  // The fresh session was touched by its use: it now lives for another idle period.
  t.true((await svc.store.findSession('fresh-token'))!.lastTouch >= now);
});

test('an unknown token answers 401, a session of a deleted user too', async (t) => {
  const svc = await serviceFor(t);
  assertError(t, await get(svc, endpointPath('listPackages', SAMPLES.pip), 'not-a-session'), 401, 'UNAUTHENTICATED');
  await svc.store.saveSession({ sessionId: 'orphan', userId: 'ghost', loginDate: Date.now(), lastTouch: Date.now() });
  assertError(t, await get(svc, endpointPath('listPackages', SAMPLES.pip), 'orphan'), 401, 'UNAUTHENTICATED');
});

test('an unknown route answers 404 and another method 405, both with a JSON error', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  assertError(t, await get(svc, '/packageManager/installPackage?name=x', token), 404, 'ROUTE_NOT_FOUND');
  assertError(t, await rawGet(svc, endpointPath('listPackages', SAMPLES.pip), tokenHeader(token), 'POST'), 405, 'METHOD_NOT_ALLOWED');
});

test('a processor folder written while the service runs is served by every read endpoint', async (t) => {
  // A smoke check of the catalog from the endpoints' side; catalog.test.ts covers the watcher itself.
  const svc = await serviceFor(t);
  writeProcessorFolder(svc.config.processorsDir, 'fresh_app', { processorId: 'fresh-1', type: 'conda', userId: 'demo', isPublic: 1 }, {
    'packagesInfo.json': JSON.stringify({ packageManager: { name: 'conda', version: '23.1.0', major: 23, minor: 1, patch: 0 }, all: [] }),
  });
  await svc.catalog.scan();
  const token = await svc.login('demo');
  t.deepEqual(json(await get(svc, '/packageManager/listPackages?name=fresh_app', token)), []);
  t.deepEqual(json(await get(svc, '/packageManager/managerVersion?name=fresh_app', token)), { name: 'conda', version: '23.1.0', major: 23, minor: 1, patch: 0 });
  t.deepEqual(json(await get(svc, '/packageManager/environmentActions?name=fresh_app', token)), []);
});
