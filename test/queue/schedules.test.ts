import { rmSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import got, { type Got } from 'got';
import { noopManagers } from '../../bench/servers/noop-manager.ts';
import { createSession } from '../../src/cli.ts';
import type { Config } from '../../src/config/schema.ts';
import type { Operation } from '../../src/domain/operation.ts';
import { openApiDocument } from '../../src/http/openapi.ts';
import { createLogger } from '../../src/logger.ts';
import { startService, type Service } from '../../src/main.ts';
import { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE } from '../../src/store/open.ts';
import { waitUntil } from '../helpers/cluster.ts';
import { OpenApiValidator } from '../helpers/openapi-validator.ts';
import { testConfig } from '../helpers/service.ts';

// Scheduled operations and maintenance windows through a real service (SQLite store, HTTP on loopback). The package
// manager is the benchmarks' no-op manager (a fake, named so): what is under test is when the queue starts an
// operation, not what pip does; test/queue/pip-operations.test.ts covers pip itself.

const PROCESSOR = 'sample_pip';
const validator = new OpenApiValidator(openApiDocument);

interface Running {
  svc: Service;
  http: Got;
  config: Config;
  /** The owner of the sample processors (a plain user) and an admin. */
  owner: Record<string, string>;
  admin: Record<string, string>;
  stranger: Record<string, string>;
}

/** A service on `config` (a fresh one by default), stopped in teardown unless the test stops it first. */
async function start(t: ExecutionContext, config?: Config): Promise<Running> {
  let cfg = config;
  if (!cfg) {
    const fresh = testConfig();
    cfg = fresh.config;
    t.teardown(() => rmSync(fresh.root, { recursive: true, force: true }));
  }
  const svc = await startService(cfg, { log: createLogger('silent'), managers: noopManagers() });
  t.teardown(() => svc.stop());
  await svc.catalog.watched();
  const session = async (userId: string, admin = false) => {
    await svc.store.saveUser({ userId, role: admin ? 'ADMIN' : 'USER' });
    return { 'x-session-token': await createSession(svc.store, userId) };
  };
  const http = got.extend({ prefixUrl: svc.url, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 30_000 } });
  return { svc, http, config: cfg, owner: await session('demo'), admin: await session('root', true), stranger: await session('eve') };
}

const body = <T>(res: { body: string }) => JSON.parse(res.body) as T;
const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function post(r: Running, json: Record<string, unknown>) {
  return r.http.post(`processors/${PROCESSOR}/operations`, { headers: r.owner, json: { commands: ['addPackage/numpy/'], ...json } });
}

async function submit(r: Running, json: Record<string, unknown>): Promise<Operation> {
  const res = await post(r, json);
  if (res.statusCode !== 202) throw new Error(`submit answered ${res.statusCode}: ${res.body}`);
  return body<Operation>(res);
}

async function getOp(r: Running, id: string): Promise<Operation> {
  return body<Operation>(await r.http.get(`operations/${id}`, { headers: r.owner }));
}

async function ended(r: Running, id: string, timeoutMs = 30_000): Promise<Operation> {
  return waitUntil(`operation ${id} ended`, async () => {
    const op = await getOp(r, id);
    return ['DONE', 'ERROR', 'STOPPED'].includes(op.status) ? op : undefined;
  }, timeoutMs, 100);
}

// ---------------------------------------------------------------- deliverAfter

test('a scheduled operation stays CREATED with its planned start shown, then runs from its time on', async (t) => {
  const r = await start(t);
  // Margins that hold on a loaded machine (CI runs four test files at once): the checks below happen well before.
  const after = Date.now() + 8_000;
  const res = await post(r, { deliverAfter: iso(after) });
  t.is(res.statusCode, 202);
  validator.conforms(t, 'post', '/processors/{name}/operations', res);
  const op = body<Operation>(res);
  t.is(op.status, 'CREATED');
  t.is(op.notBefore, after, 'the planned start is deliverAfter');
  t.is(op.deliverAfter, after);
  await sleep(1_200);
  const waitingRes = await r.http.get(`operations/${op.processObjId}`, { headers: r.owner });
  validator.conforms(t, 'get', '/operations/{id}', waitingRes);
  const waiting = body<Operation>(waitingRes);
  t.is(waiting.status, 'CREATED', 'not started before its time although the queue is idle');
  t.is(waiting.operationStartTimestamp, undefined);
  const done = await ended(r, op.processObjId);
  t.is(done.status, 'DONE', JSON.stringify(done.error));
  t.true(done.operationStartTimestamp! >= after, `started ${done.operationStartTimestamp! - after} ms after its time`);
  t.true(done.operationStartTimestamp! < after + 3_000, 'and soon after it (the worker polls every second)');
});

test('a later unscheduled operation of the same processor runs while the scheduled one waits', async (t) => {
  const r = await start(t);
  const after = Date.now() + 12_000;
  const scheduled = await submit(r, { deliverAfter: iso(after), commands: ['addPackage/scipy/'] });
  const plain = await submit(r, { commands: ['addPackage/requests/'] });
  const plainDone = await ended(r, plain.processObjId);
  t.is(plainDone.status, 'DONE');
  t.true(plainDone.operationEndTimestamp! < after, 'the unscheduled one did not wait for the scheduled one');
  t.is((await getOp(r, scheduled.processObjId)).status, 'CREATED');
  const done = await ended(r, scheduled.processObjId);
  t.is(done.status, 'DONE');
  t.true(done.operationStartTimestamp! >= after);
});

test('a deliverAfter in the past runs as soon as possible; the delay window spreads the start within its minutes', async (t) => {
  const r = await start(t);
  const before = Date.now();
  const past = await submit(r, { deliverAfter: iso(before - 3_600_000) });
  t.true(past.notBefore! >= before && past.notBefore! <= Date.now(), 'planned for now');
  t.is((await ended(r, past.processObjId)).status, 'DONE');
  const spread = await submit(r, { deliverAfter: iso(before + 3_600_000), deliverDelayWindowMinutes: 30 });
  t.true(spread.notBefore! >= before + 3_600_000 && spread.notBefore! < before + 3_600_000 + 30 * 60_000, iso(spread.notBefore!));
  t.is(spread.deliverDelayWindowMinutes, 30);
});

test('a scheduled operation is cancelled like any queued one', async (t) => {
  const r = await start(t);
  const op = await submit(r, { deliverAfter: iso(Date.now() + 3_600_000) });
  const res = await r.http.post(`operations/${op.processObjId}/cancel`, { headers: r.owner });
  t.is(res.statusCode, 200);
  t.like(body<Operation>(res), { status: 'STOPPED', error: { code: 'CANCELLED' } });
  t.is((await r.http.post(`operations/${op.processObjId}/cancel`, { headers: r.owner })).statusCode, 409);
});

test('a scheduled operation stays scheduled across a restart on the same data folder, and runs after it', async (t) => {
  const first = await start(t);
  const after = Date.now() + 15_000;
  const op = await submit(first, { deliverAfter: iso(after) });
  await first.svc.stop();
  const second = await start(t, first.config);
  const reread = await getOp(second, op.processObjId);
  t.true(Date.now() < after, 'the restart took less than the wait');
  t.like(reread, { status: 'CREATED', notBefore: after, deliverAfter: after });
  const done = await ended(second, op.processObjId);
  t.is(done.status, 'DONE');
  t.true(done.operationStartTimestamp! >= after);
});

// ---------------------------------------------------------------- maintenance windows

/** H and M of `at` in `timezone`, for a cron expression that opens at that minute there. */
function localMinute(at: number, timezone: string): { hour: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(at));
  return { hour: Number(parts.find((p) => p.type === 'hour')!.value), minute: Number(parts.find((p) => p.type === 'minute')!.value) };
}

test('an operation bound to a window waits for its opening, then runs inside it', async (t) => {
  t.timeout(150_000);
  const r = await start(t);
  // Cron has minutes: wait until the next full minute is 15 s away (the window and the operation are made in that
  // time, with room for a loaded machine), then check 5 s before it opens.
  let opening = Math.ceil(Date.now() / 60_000) * 60_000;
  if (opening - Date.now() < 20_000) opening += 60_000;
  await sleep(Math.max(0, opening - Date.now() - 15_000));
  // Asia/Kolkata is UTC+05:30: the window's cron is read in its zone, not in UTC.
  const zone = 'Asia/Kolkata';
  const { hour, minute } = localMinute(opening, zone);
  const put = await r.http.put('windows/soon', { headers: r.admin, json: { schedule: `${minute} ${hour} * * *`, durationMinutes: 1, timezone: zone } });
  t.is(put.statusCode, 201, put.body);
  validator.conforms(t, 'put', '/windows/{name}', put);
  t.like(body(put), { name: 'soon', open: false, nextOpening: opening, nextClosing: opening + 60_000 });

  const op = await submit(r, { window: 'soon' });
  t.like(op, { status: 'CREATED', window: 'soon', notBefore: opening, notAfter: opening + 60_000 });
  await sleep(Math.max(0, opening - Date.now() - 5_000));
  t.is((await getOp(r, op.processObjId)).status, 'CREATED', 'held back until the window opens');
  const done = await ended(r, op.processObjId);
  t.is(done.status, 'DONE');
  t.true(done.operationStartTimestamp! >= opening && done.operationStartTimestamp! < opening + 60_000);
  const view = await r.http.get('windows/soon', { headers: r.owner });
  validator.conforms(t, 'get', '/windows/{name}', view);
});

test('an operation that missed its window while the service was down is moved to the next opening at start, journaled, and shown', async (t) => {
  const first = await start(t);
  const everyDay = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], time: '02:00' };
  t.is((await first.http.put('windows/nightly', { headers: first.admin, json: { schedule: everyDay, durationMinutes: 60, timezone: 'UTC' } })).statusCode, 201);
  const op = await submit(first, { window: 'nightly' });
  const planned = op.notBefore!;
  await first.svc.stop();
  // While it was down, the opening it was planned in came and went: written into the store file as time would have.
  const past = Date.now() - 2 * 3_600_000;
  const file = new SqliteStore(join(first.config.dataDir, EMBEDDED_STORE_FILE));
  t.truthy(await file.updateOperation(op.processObjId, ['CREATED'], { notBefore: past, notAfter: past + 3_600_000 }));
  await file.close();

  const r = await start(t, first.config);
  const moved = await waitUntil('the missed operation moved', async () => {
    const now = await getOp(r, op.processObjId);
    return now.rescheduled ? now : undefined;
  });
  const window = body<{ nextOpening: number; nextClosing: number; open: boolean; openUntil?: number }>(await r.http.get('windows/nightly', { headers: r.owner }));
  t.like(moved, { status: 'CREATED', rescheduled: 1, notAfter: window.open ? window.openUntil : window.nextClosing });
  t.true(moved.notBefore! > past + 3_600_000);
  if (!window.open) t.is(moved.notBefore, planned, 'the next opening is the one it was first planned in');
  const events = await r.svc.store.readEvents(0, 1_000);
  t.true(events.some((e) => e.type === 'operation.rescheduled' && e.operationId === op.processObjId && e.reason === 'window closed'));
  t.is(await r.svc.schedules.sweepMissed(), 0, 'nothing left to move');
});

test('an operation whose window vanished (deleted by another process meanwhile) ends STOPPED with the reason when it misses its opening', async (t) => {
  const r = await start(t);
  t.is((await r.http.put('windows/gone', { headers: r.admin, json: { schedule: '0 2 * * *', durationMinutes: 60, timezone: 'UTC' } })).statusCode, 201);
  const op = await submit(r, { window: 'gone' });
  await r.svc.worker.stop();
  t.true(await r.svc.store.removeWindow('gone'));
  const past = Date.now() - 3_600_000;
  await r.svc.store.updateOperation(op.processObjId, ['CREATED'], { notBefore: past, notAfter: past + 60_000 });
  t.is(await r.svc.schedules.sweepMissed(), 0);
  t.like(await getOp(r, op.processObjId), { status: 'STOPPED', error: { code: 'WINDOW_NOT_FOUND' } });
});

test('changing a window plans its waiting operations anew; deleting it is refused while they wait', async (t) => {
  const r = await start(t);
  const put = (json: unknown) => r.http.put('windows/weekly', { headers: r.admin, json });
  // Days other than today's, so that neither schedule is open while the test runs.
  const [first, second] = [2, 4].map((d) => (new Date().getUTCDay() + d) % 7);
  t.is((await put({ schedule: `0 3 * * ${first}`, durationMinutes: 120, timezone: 'UTC' })).statusCode, 201);
  const op = await submit(r, { window: 'weekly' });
  t.is(new Date(op.notBefore!).getUTCDay(), first);
  const changed = await put({ schedule: `30 4 * * ${second}`, durationMinutes: 30, timezone: 'UTC' });
  t.is(changed.statusCode, 200);
  validator.conforms(t, 'put', '/windows/{name}', changed);
  t.is(changed.headers['x-replanned-operations'], '1');
  const window = body<{ nextOpening: number; nextClosing: number }>(changed);
  t.like(await getOp(r, op.processObjId), { notBefore: window.nextOpening, notAfter: window.nextClosing, rescheduled: 1 });
  t.is(new Date(window.nextOpening).getUTCDay(), second);

  const refused = await r.http.delete('windows/weekly', { headers: r.admin });
  t.is(refused.statusCode, 409);
  validator.conforms(t, 'delete', '/windows/{name}', refused);
  t.like(body(refused), { error: { code: 'WINDOW_IN_USE', details: { operations: [op.processObjId] } } });
  await r.http.post(`operations/${op.processObjId}/cancel`, { headers: r.owner });
  const deleted = await r.http.delete('windows/weekly', { headers: r.admin });
  t.is(deleted.statusCode, 204);
  t.is((await r.http.get('windows/weekly', { headers: r.owner })).statusCode, 404);
});

test('windows: any user reads them; only admins create, change and delete them; anonymous callers get 401', async (t) => {
  const r = await start(t);
  const json = { schedule: { days: ['sat'], time: '01:00' }, durationMinutes: 90, timezone: 'UTC' };
  const refused = await r.http.put('windows/mine', { headers: r.owner, json });
  t.is(refused.statusCode, 403);
  validator.conforms(t, 'put', '/windows/{name}', refused);
  t.is(body<{ error: { code: string } }>(refused).error.code, 'ADMIN_ONLY');
  t.is((await r.http.put('windows/mine', { json })).statusCode, 401);
  t.is((await r.http.put('windows/mine', { headers: r.admin, json })).statusCode, 201);
  for (const headers of [r.owner, r.stranger]) {
    const list = await r.http.get('windows', { headers });
    t.is(list.statusCode, 200);
    validator.conforms(t, 'get', '/windows', list);
    t.deepEqual(body<{ name: string }[]>(list).map((w) => w.name), ['mine']);
  }
  t.is((await r.http.get('windows')).statusCode, 401);
  t.is((await r.http.get('windows/mine')).statusCode, 401);
  t.is((await r.http.delete('windows/mine', { headers: r.stranger })).statusCode, 403);
  t.is((await r.http.delete('windows/mine')).statusCode, 401);
  t.is((await r.http.delete('windows/mine', { headers: r.admin })).statusCode, 204);
});

test('bad schedules and windows answer 4xx with a clear code, never 500', async (t) => {
  const r = await start(t);
  const cases: [Record<string, unknown>, number, string][] = [
    [{ deliverAfter: 'tomorrow at two' }, 400, 'INVALID_DELIVER_AFTER'],
    [{ deliverAfter: '2026-05-01T02:00:00' }, 400, 'INVALID_DELIVER_AFTER'],
    [{ deliverAfter: 1_777_000_000_000 }, 400, 'INVALID_DELIVER_AFTER'],
    [{ deliverDelayWindowMinutes: -5 }, 400, 'INVALID_DELAY_WINDOW'],
    [{ deliverDelayWindowMinutes: 2.5 }, 400, 'INVALID_DELAY_WINDOW'],
    [{ deliverDelayWindowMinutes: 1_000_000 }, 400, 'INVALID_DELAY_WINDOW'],
    [{ window: 'no such window' }, 400, 'INVALID_WINDOW_NAME'],
    [{ window: 'nosuchwindow' }, 400, 'WINDOW_NOT_FOUND'],
  ];
  for (const [json, status, code] of cases) {
    const res = await post(r, json);
    t.is(res.statusCode, status, `${JSON.stringify(json)}: ${res.body}`);
    t.is(body<{ error: { code: string } }>(res).error.code, code);
    validator.conforms(t, 'post', '/processors/{name}/operations', res);
  }
  const put = (name: string, json: unknown) => r.http.put(`windows/${name}`, { headers: r.admin, json });
  const windowCases: [string, unknown, string][] = [
    ['w', { schedule: '0 2 * * *', durationMinutes: 60, timezone: 'Mars/Olympus' }, 'UNKNOWN_TIMEZONE'],
    ['w', { schedule: '0 0 30 2 *', durationMinutes: 60, timezone: 'UTC' }, 'WINDOW_NEVER_OPENS'],
    ['w', { schedule: '0 2 * *', durationMinutes: 60, timezone: 'UTC' }, 'INVALID_WINDOW_SCHEDULE'],
    ['w', { schedule: { days: ['caturday'], time: '02:00' }, durationMinutes: 60, timezone: 'UTC' }, 'INVALID_WINDOW_SCHEDULE'],
    ['w', { schedule: '0 2 * * *', durationMinutes: 0, timezone: 'UTC' }, 'INVALID_WINDOW_DURATION'],
    ['w', { schedule: '0 2 * * *', durationMinutes: 10_081, timezone: 'UTC' }, 'INVALID_WINDOW_DURATION'],
    ['w', [], 'INVALID_BODY'],
    ['-bad', { schedule: '0 2 * * *', durationMinutes: 60, timezone: 'UTC' }, 'INVALID_WINDOW_NAME'],
  ];
  for (const [name, json, code] of windowCases) {
    const res = await put(name, json);
    t.is(res.statusCode, 400, `${JSON.stringify(json)}: ${res.body}`);
    t.is(body<{ error: { code: string } }>(res).error.code, code);
    validator.conforms(t, 'put', '/windows/{name}', res);
  }
  const missing = await r.http.get('windows/nothing', { headers: r.owner });
  t.is(missing.statusCode, 404);
  validator.conforms(t, 'get', '/windows/{name}', missing);
  t.is((await r.http.delete('windows/nothing', { headers: r.admin })).statusCode, 404);
  t.deepEqual(body(await r.http.get('windows', { headers: r.admin })), [], 'nothing was stored');
});

// ---------------------------------------------------------------- compute nodes

test('a scheduled operation is sent to the compute nodes when the main node starts it, not when it is queued', async (t) => {
  const r = await start(t);
  // A registered node nobody listens on: its deliveries are stored (and retried), which is all this test reads.
  await r.svc.store.saveNode({ nodeCode: 'n1', nodeBaseAddress: 'http://127.0.0.1:9/', active: true });
  const plain = await submit(r, { commands: ['addPackage/requests/'] });
  const after = Date.now() + 10_000;
  const scheduled = await submit(r, { deliverAfter: iso(after) });
  const nodesOf = async (id: string) => (await r.svc.store.listDeliveries({ operationId: id })).map((d) => d.nodeCode);
  await waitUntil('the unscheduled operation fanned out', async () => (await nodesOf(plain.processObjId)).length > 0);
  t.deepEqual(await nodesOf(scheduled.processObjId), [], 'nothing sent while it waits');
  const done = await ended(r, scheduled.processObjId);
  t.true(done.operationStartTimestamp! >= after);
  t.deepEqual(await waitUntil('the scheduled operation fanned out', async () => {
    const nodes = await nodesOf(scheduled.processObjId);
    return nodes.length ? nodes : undefined;
  }), ['n1']);
  const delivery = (await r.svc.store.listDeliveries({ operationId: scheduled.processObjId }))[0]!;
  t.true(delivery.createdAt >= done.operationStartTimestamp!, 'created when it started');
});
