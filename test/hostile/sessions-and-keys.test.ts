import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { UnauthenticatedError } from '../../src/domain/errors.ts';
import { SessionService } from '../../src/services/sessions.ts';
import { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';
import { SAMPLES, serviceFor } from '../http/support.ts';

/** A real store file and a clock the test moves by hand: idle limits are minutes long. */
function clockedSessions(t: ExecutionContext, idleMinutes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-sessions-'));
  const store = new SqliteStore(join(dir, 'procenv.sqlite'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let now = 1_000_000_000_000;
  const clock = { advance: (ms: number) => (now += ms), get now() { return now; } };
  const sessions = (): SessionService => new SessionService({ store, sessionIdleMinutes: idleMinutes, now: () => now });
  return { store, clock, sessions };
}

test('with sessionIdleMinutes=1, a session used every 50 s never expires; unused for over a minute it does', async (t) => {
  const { store, clock, sessions } = clockedSessions(t, 1);
  await store.saveUser({ userId: 'alice', role: 'USER' });
  await store.saveSession({ sessionId: 'tok-alice', userId: 'alice', loginDate: clock.now, lastTouch: clock.now });
  const service = sessions();
  for (let i = 1; i <= 6; i++) {
    clock.advance(50_000);
    t.is((await service.authenticate('tok-alice')).userId, 'alice', `use ${i} at ${i * 50} s`);
  }
  // Another process on the same store (a second service, the CLI) sees the session as recently used too.
  clock.advance(50_000);
  t.is((await sessions().authenticate('tok-alice')).userId, 'alice');
  clock.advance(61_000);
  await t.throwsAsync(service.authenticate('tok-alice'), { instanceOf: UnauthenticatedError, message: /expired/ });
  t.is(await store.findSession('tok-alice'), undefined, 'the expired session is removed');
});

test('a session in use is refreshed in the store often enough for the idle limit, not on every request', async (t) => {
  const { store, clock, sessions } = clockedSessions(t, 10);
  await store.saveUser({ userId: 'bob', role: 'USER' });
  const start = clock.now;
  await store.saveSession({ sessionId: 'tok-bob', userId: 'bob', loginDate: start, lastTouch: start });
  const service = sessions();
  clock.advance(30_000);
  await service.authenticate('tok-bob');
  t.is((await store.findSession('tok-bob'))!.lastTouch, start, 'a use within the tenth of the idle limit writes nothing');
  clock.advance(61_000);
  await service.authenticate('tok-bob');
  t.is((await store.findSession('tok-bob'))!.lastTouch, clock.now);
});

test('Idempotency-Key scopes cannot collide across users: x with key "y:z" and x:y with key "z" are two operations', async (t) => {
  const svc = await serviceFor(t);
  const x = await svc.login('x', { admin: true });
  const xy = await svc.login('x:y', { admin: true });
  const submit = (token: string, key: string) => svc.http.post(`processors/${SAMPLES.pip.name}/operations`, {
    headers: { 'x-session-token': token, 'idempotency-key': key }, json: { commands: [] },
  });
  const first = await submit(x, 'y:z');
  t.is(first.statusCode, 202, first.body);
  const second = await submit(xy, 'z');
  t.is(second.statusCode, 202, second.body);
  t.is(second.headers['idempotent-replayed'], undefined, 'not a replay of the other user\'s operation');
  const a = JSON.parse(first.body) as { processObjId: string; userId: string; idempotencyKey: string };
  const b = JSON.parse(second.body) as { processObjId: string; userId: string; idempotencyKey: string };
  t.not(a.processObjId, b.processObjId);
  t.is(b.userId, 'x:y');
  t.is(a.idempotencyKey, 'y:z', 'each user sees the key they sent');
  t.is(b.idempotencyKey, 'z');
  // The same user with the same key still replays.
  const again = await submit(xy, 'z');
  t.is(again.headers['idempotent-replayed'], 'true');
  t.is((JSON.parse(again.body) as { processObjId: string }).processObjId, b.processObjId);
});
