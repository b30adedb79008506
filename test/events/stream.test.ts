import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { startService } from '../../src/main.ts';
import type { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { openEvents } from '../helpers/sse.ts';

// Real services on loopback, real SQLite files, the stream read by a client that parses SSE as a browser does.
const PRIVATE = 'sample_oneshot';
const PUBLIC = 'sample_pip';

async function queue(svc: TestService, token: string, processor: string): Promise<string> {
  const res = await svc.http.post(`processors/${processor}/operations`, { headers: { 'x-session-token': token }, json: { commands: [] } });
  if (res.statusCode !== 202) throw new Error(`queue answered ${res.statusCode}: ${res.body}`);
  return JSON.parse(res.body).processObjId;
}

async function ticket(svc: TestService, token: string): Promise<string> {
  const res = await svc.http.post('events/tickets', { headers: { 'x-session-token': token } });
  if (res.statusCode !== 201) throw new Error(`tickets answered ${res.statusCode}: ${res.body}`);
  return JSON.parse(res.body).ticket;
}

test('no credentials is 401; a session token in the URL is refused; a ticket works once and then expires', async (t) => {
  const svc = await startTestService({ 'events.ticketSeconds': 1 }, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');

  const anonymous = await openEvents(svc.url);
  t.is(anonymous.status, 401);
  t.regex(anonymous.body.error.message, /ticket/);
  t.is((await svc.http.post('events/tickets')).statusCode, 401);
  t.is((await svc.http.post('events/tickets', { headers: { 'x-session-token': 'nope' } })).statusCode, 401);
  const inUrl = await openEvents(svc.url, { query: `token=${token}` });
  t.is(inUrl.status, 400);
  t.is(inUrl.body.error.code, 'TOKEN_IN_URL');

  const made = await svc.http.post('events/tickets', { headers: { 'x-session-token': token } });
  t.is(made.headers['cache-control'], 'no-store');
  const { ticket: once, expiresAt } = JSON.parse(made.body);
  t.true(expiresAt > Date.now() && expiresAt <= Date.now() + 1_000);
  t.false(made.body.includes(token), 'the answer never repeats the session token');
  const first = await openEvents(svc.url, { query: `ticket=${once}` });
  t.is(first.status, 200);
  first.close();
  const again = await openEvents(svc.url, { query: `ticket=${once}` });
  t.is(again.status, 401, 'a ticket is good once');

  const late = await ticket(svc, token);
  await new Promise((r) => setTimeout(r, 1_100));
  t.is((await openEvents(svc.url, { query: `ticket=${late}` })).status, 401, 'an expired ticket is refused');
  t.is((await openEvents(svc.url, { query: 'ticket=made-up' })).status, 401);
});

test('the stream: SSE headers, no compression, a retry hint, keep-alives, and the events of a queued operation', async (t) => {
  const svc = await startTestService({ 'events.keepAliveSeconds': 1 }, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const client = await openEvents(svc.url, { headers: { 'x-session-token': token, 'accept-encoding': 'gzip, br' } });
  t.teardown(() => client.close());
  t.is(client.status, 200);
  t.regex(String(client.headers['content-type']), /^text\/event-stream/);
  t.regex(String(client.headers['cache-control']), /no-cache/);
  t.is(client.headers['x-accel-buffering'], 'no');
  t.is(client.headers['content-encoding'], undefined, 'an event stream is never compressed');
  t.is(client.messages[0]?.retry, 3000);

  const id = await queue(svc, token, PUBLIC);
  const [queued] = await client.until((e) => e.some((x) => x.type === 'operation.queued'));
  t.is(queued.operationId, id);
  t.is(queued.processor, PUBLIC);
  t.is(queued.operation.status, 'CREATED');
  t.is(queued.position, 0);
  t.true(Number.isInteger(queued.id) && typeof queued.at === 'number');
  t.is(queued.operation.leaseOwner, undefined, 'the worker\'s bookkeeping is not published');

  const second = await queue(svc, token, PUBLIC);
  const events = await client.until((e) => e.some((x) => x.operationId === second));
  t.is(events.find((x) => x.operationId === second).position, 1, 'the second operation waits behind the first');

  // The queued one cancelled: its end is an event like any other.
  t.is((await svc.http.post(`operations/${second}/cancel`, { headers: { 'x-session-token': token } })).statusCode, 200);
  const ended = (await client.until((e) => e.some((x) => x.type === 'operation.ended'))).find((x) => x.type === 'operation.ended');
  t.is(ended.operation.status, 'STOPPED');
  t.is(ended.operation.error.code, 'CANCELLED');

  // Two more keep-alives at 1 s intervals; the wait allows for timers held back on a loaded machine.
  const keepAlives = () => client.messages.filter((m) => m.comment === 'keep-alive').length;
  const before = keepAlives();
  const deadline = Date.now() + 5_000;
  while (keepAlives() < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true(keepAlives() >= before + 2, 'a keep-alive comment every second');
});

test('events of a processor the user cannot read never arrive, and stop within a second when a share is revoked', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const owner = await svc.login('demo');
  const stranger = await svc.login('stranger');
  const processor = (await svc.store.findProcessorByName(PRIVATE))!;

  const filtered = await openEvents(svc.url, { query: `processor=${PRIVATE}`, headers: { 'x-session-token': stranger } });
  t.is(filtered.status, 403, 'a filter naming an unreadable processor is refused');
  t.is((await openEvents(svc.url, { query: 'processor=..%2Fetc', headers: { 'x-session-token': stranger } })).status, 400);
  t.is((await openEvents(svc.url, { query: 'operation=nope', headers: { 'x-session-token': stranger } })).status, 404);

  const theirs = await openEvents(svc.url, { headers: { 'x-session-token': stranger } });
  const mine = await openEvents(svc.url, { headers: { 'x-session-token': owner } });
  t.teardown(() => {
    theirs.close();
    mine.close();
  });
  const hidden = await queue(svc, owner, PRIVATE);
  const visible = await queue(svc, owner, PUBLIC);
  await mine.until((e) => e.some((x) => x.operationId === visible) && e.some((x) => x.operationId === hidden));
  await theirs.until((e) => e.some((x) => x.operationId === visible));
  t.false(theirs.events().some((x) => x.processor === PRIVATE), 'nothing of the private processor reached the stranger');

  await svc.store.saveSharing({ resourceType: 'processor', resourceId: processor.processorId, userId: 'stranger', ownerId: 'demo', permissions: 'read', createdBy: 'demo', createdDate: Date.now() });
  await new Promise((r) => setTimeout(r, 1_100));
  const shared = await queue(svc, owner, PRIVATE);
  await theirs.until((e) => e.some((x) => x.operationId === shared));

  (svc.store as SqliteStore).db.prepare('DELETE FROM userresourcepermissions WHERE userId = ?').run('stranger');
  await new Promise((r) => setTimeout(r, 1_100));
  const revoked = await queue(svc, owner, PRIVATE);
  const marker = await queue(svc, owner, PUBLIC);
  await theirs.until((e) => e.some((x) => x.operationId === marker));
  t.false(theirs.events().some((x) => x.operationId === revoked), 'a revoked share stops the events');
});

test('a client that reconnects with Last-Event-ID misses nothing, also across a restart; one past the retention gets reset', async (t) => {
  const svc = await startTestService({}, { worker: false });
  let current = svc;
  t.teardown(() => current.close());
  const token = await svc.login('demo');
  const headers = { 'x-session-token': token };

  const first = await openEvents(svc.url, { headers });
  const a = await queue(svc, token, PUBLIC);
  const seen = await first.until((e) => e.some((x) => x.operationId === a));
  const lastId = seen.at(-1).id;
  first.close();

  const missed = [await queue(svc, token, PUBLIC), await queue(svc, token, PRIVATE)];
  const resumed = await openEvents(svc.url, { headers: { ...headers, 'last-event-id': String(lastId) } });
  const got = await resumed.until((e) => missed.every((id) => e.some((x) => x.operationId === id)));
  t.deepEqual(got.map((x) => x.operationId), missed, 'exactly the events missed, in order');
  t.true(got.every((x, i) => i === 0 ? x.id === lastId + 1 : x.id === got[i - 1].id + 1), 'ids follow each other');
  const resumeAfter = got.at(-1).id;
  resumed.close();

  // Events written, then the service restarts on the same store: the journal still has them.
  const beforeRestart = await queue(svc, token, PUBLIC);
  await svc.stop();
  const restarted = await startService(svc.config, { log: createLogger('silent') });
  current = Object.assign(restarted, { close: async () => { await restarted.stop(); await svc.close(); } }) as unknown as TestService;
  await restarted.worker.stop();
  const afterRestart = await openEvents(restarted.url, { headers: { ...headers, 'last-event-id': String(resumeAfter) } });
  t.teardown(() => afterRestart.close());
  const replay = await afterRestart.until((e) => e.some((x) => x.operationId === beforeRestart));
  t.is(replay[0].operationId, beforeRestart, 'the first event after the restart is the one missed before it');

  // Only the newest event kept: an id before it cannot be served, and the stream says so.
  await restarted.store.pruneEvents(1, 0);
  const tooOld = await openEvents(restarted.url, { headers: { ...headers, 'last-event-id': '1' } });
  t.teardown(() => tooOld.close());
  const [reset] = await tooOld.until((e) => e.length > 0);
  t.is(reset.type, 'reset');
  t.regex(reset.reason, /no longer kept/);
  t.is(tooOld.messages.find((m) => m.data?.type === 'reset')?.id, String((await restarted.store.eventBounds()).last), 'the reset moves the client\'s Last-Event-ID to now');
  t.is((await openEvents(restarted.url, { headers: { ...headers, 'last-event-id': 'x1' } })).status, 400);
});

test('two processes on one store see each other\'s events', async (t) => {
  const one = await startTestService({ 'events.pollMs': 100 }, { worker: false });
  t.teardown(() => one.close());
  const config = loadConfig({ env: {}, overrides: { ...one.config, port: 0, 'events.pollMs': 100 } });
  const two = await startService(config, { log: createLogger('silent') });
  t.teardown(() => two.stop());
  await two.worker.stop();
  const token = await one.login('demo');
  const onTwo = await openEvents(two.url, { headers: { 'x-session-token': token } });
  t.teardown(() => onTwo.close());
  const id = await queue(one, token, PUBLIC);
  const [queued] = await onTwo.until((e) => e.some((x) => x.operationId === id), 5_000);
  t.is(queued.type, 'operation.queued');
});

test('packagesInfo.json rewritten by another hand is a packages.changed event from the disk, once', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const client = await openEvents(svc.url, { query: `processor=${PUBLIC}`, headers: { 'x-session-token': token } });
  t.teardown(() => client.close());
  writeFileSync(join(svc.catalog.folderOf(PUBLIC), 'packagesInfo.json'), JSON.stringify({ all: [{ packageName: 'x', currentVersion: '1' }] }));
  const [changed] = await client.until((e) => e.some((x) => x.type === 'packages.changed'));
  t.deepEqual({ type: changed.type, processor: changed.processor, source: changed.source }, { type: 'packages.changed', processor: PUBLIC, source: 'disk' });
  await new Promise((r) => setTimeout(r, 600));
  t.is(client.events().filter((x) => x.type === 'packages.changed').length, 1, 'one event per change of the file');
});

test('streams are bounded per user, and a reader that falls too far behind is closed with the reason', async (t) => {
  const svc = await startTestService({ 'events.maxStreamsPerUser': 2, 'events.maxPending': 10 }, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const headers = { 'x-session-token': token };
  const a = await openEvents(svc.url, { headers });
  const b = await openEvents(svc.url, { headers });
  // HEAD answers the headers without holding a stream (its place stays free).
  const head = await svc.http.head('events', { headers });
  t.is(head.statusCode, 200);
  t.regex(String(head.headers['content-type']), /^text\/event-stream/);
  const c = await openEvents(svc.url, { headers });
  t.is(c.status, 429);
  t.is(c.body.error.code, 'TOO_MANY_STREAMS');
  b.close();
  await new Promise((r) => setTimeout(r, 100));
  const d = await openEvents(svc.url, { headers });
  t.is(d.status, 200, 'a closed stream frees its place');
  d.close();

  // `a` stops reading; big events fill the socket, then the queue: the stream is ended, not grown.
  a.res.pause();
  const big = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 10; i++) {
    await svc.store.appendEvents(Array.from({ length: 20 }, () => ({ type: 'packages.changed' as const, at: Date.now(), processor: PUBLIC, data: { source: 'disk', pad: big } })));
    svc.hub.poke();
    await new Promise((r) => setTimeout(r, 50));
  }
  a.res.resume();
  await a.ended;
  const last = a.events().at(-1);
  t.is(last.type, 'closing');
  t.regex(last.reason, /too far behind/);
  t.true(a.events().length < 200, 'the slow reader did not get everything: it resumes from its last id');
});
