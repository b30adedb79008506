import { statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { ProcessorUpdates } from '../../src/services/updates.ts';
import { startTestService } from '../helpers/service.ts';

// The three sample processors: sample_pip (public; numpy, Shapely and requests outdated), sample_oneshot (private;
// numpy outdated), sample_conda (public; nothing outdated), all owned by demo.

test.serial('GET /updates lists each readable processor\'s updates with when they were checked; POST /updates/check queues refreshes of what the caller can change', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const [owner, stranger] = [await svc.login('demo'), await svc.login('stranger')];
  const call = async (method: 'get' | 'post', path: string, token: string | undefined, json?: unknown) => {
    const res = await svc.http[method](path, { headers: token ? { 'x-session-token': token } : {}, ...(json !== undefined ? { json } : {}) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };

  const all = (await call('get', 'updates', owner)).body as ProcessorUpdates[];
  t.deepEqual(all.map((u) => [u.processor, u.counts, u.updates.map((x) => `${x.package} ${x.current}→${x.available} ${x.type}`)]), [
    ['sample_oneshot', { security: 0, regular: 1 }, ['numpy 1.26.4→2.1.0 regular']],
    ['sample_pip', { security: 0, regular: 3 }, ['numpy 1.24.4→2.0.2 regular', 'requests 2.28.1→2.32.3 regular', 'Shapely 1.8.5→2.0.6 regular']],
  ]);
  const checked = statSync(join(svc.catalog.folderOf('sample_pip'), 'packagesInfo.json')).mtime.toISOString();
  t.is(all[1]!.checkedAt, checked, 'when packagesInfo.json was last written');
  t.deepEqual(((await call('get', 'updates', owner)).body as ProcessorUpdates[]).length, 2);
  t.deepEqual(((await call('get', 'updates?all=true', owner)).body as ProcessorUpdates[]).map((u) => u.processor), ['sample_conda', 'sample_oneshot', 'sample_pip']);
  t.deepEqual(((await call('get', 'updates', stranger)).body as ProcessorUpdates[]).map((u) => u.processor), ['sample_pip'], 'a private processor is not counted');
  t.like((await call('get', 'updates/sample_oneshot', owner)).body, { processor: 'sample_oneshot', manager: 'pip', type: 'pip_oneshot', counts: { regular: 1 } });
  t.is((await call('get', 'updates/sample_oneshot', stranger)).status, 403);
  t.is((await call('get', 'updates', undefined)).status, 401);
  t.is((await call('get', 'updates?all=maybe', owner)).status, 400);

  const check = await call('post', 'updates/check', owner, {});
  t.is(check.status, 202);
  t.deepEqual(check.body.results.map((r: { processor: string }) => r.processor), ['sample_conda', 'sample_oneshot', 'sample_pip']);
  for (const r of check.body.results) {
    const op = (await call('get', `operations/${r.operationId}`, owner)).body;
    t.like(op, { productName: r.processor, status: 'CREATED', commands: [] }, 'a refresh');
  }
  // Unnamed: only what the caller can change (nothing, for a stranger); named: each one, refused with the reason.
  t.deepEqual((await call('post', 'updates/check', stranger, {})).body, { results: [] });
  const named = await call('post', 'updates/check', stranger, { processors: ['sample_pip', 'sample_oneshot'] });
  t.deepEqual(named.body.results.map((r: { processor: string; refused: { code: string } }) => [r.processor, r.refused.code]), [
    ['sample_oneshot', 'PROCESSOR_NOT_ACCESSIBLE'], ['sample_pip', 'PROCESSOR_NOT_WRITABLE'],
  ]);
  for (const body of [{ processors: [] }, { processors: 'all' }, { processors: [''] }, { processor: ['sample_pip'] }, [1]]) {
    const res = await call('post', 'updates/check', owner, body);
    t.is(res.status, 400, JSON.stringify(body));
  }
  t.is((await call('post', 'updates/check', undefined, {})).status, 401);
});

test.serial('cancelling a batch stops its operations that have not started, once, and only for its owner or an admin', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const [owner, stranger, admin] = [await svc.login('demo'), await svc.login('stranger'), await svc.login('root', { admin: true })];
  const post = async (path: string, token: string, json: unknown = {}) => {
    const res = await svc.http.post(path, { headers: { 'x-session-token': token }, json });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  const batch = await post('batches', owner, { processors: ['sample_pip', 'sample_oneshot'], action: 'upgrade-all' });
  t.is(batch.status, 202);
  t.deepEqual(batch.body.progress.byStatus, { CREATED: 2, RUNNING: 0, DONE: 0, ERROR: 0, STOPPED: 0 });
  t.false(batch.body.progress.finished);

  t.is((await post(`batches/${batch.body.batchId}/cancel`, stranger)).status, 404);
  const cancelled = await post(`batches/${batch.body.batchId}/cancel`, owner);
  t.is(cancelled.status, 200);
  t.like(cancelled.body, { cancelledBy: 'demo', progress: { byStatus: { CREATED: 0, STOPPED: 2 }, finished: true } });
  for (const o of cancelled.body.operations) t.is((await svc.store.findOperation(o.operationId))?.status, 'STOPPED');
  const again = await post(`batches/${batch.body.batchId}/cancel`, admin);
  t.is(again.body.cancelledAt, cancelled.body.cancelledAt, 'the first cancel is the one recorded');
});

test.serial('a scheduled batch plans each processor\'s operation on its own within the delay window; an unknown window queues nothing', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const owner = await svc.login('demo');
  const post = async (json: unknown) => {
    const res = await svc.http.post('batches', { headers: { 'x-session-token': owner }, json });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  const after = Date.now() + 3_600_000;
  const batch = await post({ processors: ['sample_pip', 'sample_oneshot'], action: 'upgrade-all', deliverAfter: new Date(after).toISOString(), deliverDelayWindowMinutes: 30 });
  t.is(batch.status, 202, JSON.stringify(batch.body));
  t.like(batch.body.schedule, { deliverDelayWindowMinutes: 30 });
  for (const o of batch.body.operations) {
    const op = await svc.store.findOperation(o.operationId);
    t.is(op?.status, 'CREATED');
    t.true(op!.notBefore! >= Math.floor(after / 1000) * 1000 && op!.notBefore! <= after + 30 * 60_000, `planned at ${new Date(op!.notBefore!).toISOString()}`);
  }
  const before = (await svc.store.listOperations({ limit: 100, offset: 0 })).length;
  for (const [fields, code] of [[{ window: 'nightly' }, 'WINDOW_NOT_FOUND'], [{ deliverAfter: 'tomorrow' }, 'INVALID_DELIVER_AFTER'], [{ deliverDelayWindowMinutes: -1 }, 'INVALID_DELAY_WINDOW']] as const) {
    const res = await post({ processors: ['sample_pip'], action: 'upgrade-all', ...fields });
    t.is(res.status, 400, JSON.stringify(fields));
    t.is(res.body.error.code, code);
  }
  t.is((await svc.store.listOperations({ limit: 100, offset: 0 })).length, before, 'nothing was queued for them');
});
