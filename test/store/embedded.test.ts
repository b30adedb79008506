import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import { MIGRATIONS } from '../../src/store/embedded/schema.ts';
import { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';
import { MAIN, T0, operation, processor } from './builders.ts';
import { storeContract } from './contract.ts';
import { assertNoDoubleClaims, queueWork, runWorkers } from './cross-process.ts';

const dirs: string[] = [];
test.after.always(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A store file in a fresh temp folder (a real SQLite file in WAL mode, as in production). */
function freshFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-store-'));
  dirs.push(dir);
  return join(dir, 'nested', 'procenv.sqlite');
}

storeContract('embedded', async () => new SqliteStore(freshFile()));

function twoStores(t: ExecutionContext, file: string): [SqliteStore, SqliteStore] {
  const a = new SqliteStore(file);
  const b = new SqliteStore(file);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  return [a, b];
}

test('embedded: two stores on one file never claim one operation twice nor two of one processor', async (t) => {
  const [a, b] = twoStores(t, freshFile());
  await queueWork(a, ['p0', 'p1', 'p2'], 4);
  const claimed: Operation[] = [];
  for (let round = 0; round < 4; round++) {
    const now = T0 + 1000 * (round + 1);
    const results = await Promise.all([a, b, a, b, b, a].map((s, i) => s.claimNextOperation(MAIN, `w${i}`, now + 60_000, now)));
    const got = results.filter((r): r is Operation => r !== undefined);
    t.deepEqual(got.map((o) => o.processObjId).sort(), [`p0-${round}`, `p1-${round}`, `p2-${round}`]);
    claimed.push(...got);
    // Each store sees the other's claims at once: no cache between them and the file.
    t.is((await b.listOperations({ status: 'RUNNING' })).length, 3);
    for (const [i, op] of got.entries()) {
      t.truthy(await (i % 2 ? a : b).updateOperation(op.processObjId, ['RUNNING'], { status: 'DONE' }));
    }
  }
  t.is(new Set(claimed.map((o) => o.processObjId)).size, 12);
  t.is(await a.claimNextOperation(MAIN, 'w0', T0 + 99_000, T0 + 9000), undefined);
});

test('embedded: worker processes sharing one file never double-claim and keep each processor in order', async (t) => {
  const file = freshFile();
  const setup = new SqliteStore(file);
  const ops = await queueWork(setup, ['p0', 'p1', 'p2', 'p3'], 8);
  await setup.close();
  const reports = await runWorkers(3, ['embedded', file]);
  assertNoDoubleClaims(t, reports, ops);
  const after = new SqliteStore(file);
  t.teardown(() => after.close());
  t.is((await after.listOperations({ status: 'DONE' })).length, ops.length);
});

test('embedded: everything survives close and reopen, and the queue and log go on where they were', async (t) => {
  const file = freshFile();
  const first = new SqliteStore(file);
  await first.saveUser({ userId: 'ana', role: 'ADMIN' });
  await first.saveSession({ sessionId: 's-1', userId: 'ana', loginDate: T0, lastTouch: T0 });
  const alpha = processor({ processorId: 'p-1', name: 'alpha', isPublic: false });
  await first.saveProcessor(alpha);
  await first.saveSharing({ resourceType: 'processor', resourceId: 'p-1', userId: 'bob', ownerId: 'ana', permissions: 'write', createdBy: 'ana', createdDate: T0 });
  await first.saveNode({ nodeCode: 'n1', nodeBaseAddress: 'http://127.0.0.1:9001/', active: true });
  await first.insertOperation(operation({ processObjId: 'a1', idempotencyKey: 'k1', operationTimestamp: T0 + 1 }));
  await first.insertOperation(operation({ processObjId: 'a2', operationTimestamp: T0 + 2 }));
  const running = await first.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0);
  await first.appendOperationLog('a1', [{ t: T0, stream: 'stdout', line: 'before' }]);
  await first.close();

  const second = new SqliteStore(file);
  t.teardown(() => second.close());
  t.deepEqual(await second.findUser('ana'), { userId: 'ana', role: 'ADMIN' });
  t.is((await second.findSession('s-1'))?.userId, 'ana');
  t.deepEqual(await second.findProcessorByName('alpha'), alpha);
  t.is((await second.findSharing('p-1', 'bob'))?.permissions, 'write');
  t.is((await second.findNode('n1'))?.nodeBaseAddress, 'http://127.0.0.1:9001/');
  t.deepEqual(await second.findOperation('a1'), running);
  // The RUNNING operation still holds its processor, and its key still answers it.
  t.is(await second.claimNextOperation(MAIN, 'w2', T0 + 60_000, T0), undefined);
  t.false((await second.insertOperation(operation({ processObjId: 'a9', idempotencyKey: 'k1' }))).created);
  await second.appendOperationLog('a1', [{ t: T0 + 1, stream: 'stdout', line: 'after' }]);
  t.deepEqual((await second.readOperationLog('a1')).map((l) => [l.seq, l.line]), [[1, 'before'], [2, 'after']]);
});

test('embedded: a store file from before schedules is migrated, and its queued operations stay claimable', async (t) => {
  const file = freshFile();
  const current = new SqliteStore(file);
  await current.insertOperation(operation({ processObjId: 'old', operationTimestamp: T0 }));
  // Back to the schema before the schedule migration, as a file written by the procenv before it: its columns and
  // table go, and so does every table a later migration made.
  const schedules = MIGRATIONS.findIndex((m) => m.includes('maintenancewindows'));
  const later = MIGRATIONS.slice(schedules + 1).flatMap((m) => [...m.matchAll(/CREATE TABLE (\w+)/g)].map((x) => x[1]!));
  current.db.exec(`DROP INDEX processworkspace_missed; ALTER TABLE processworkspace DROP COLUMN notBefore;
    ALTER TABLE processworkspace DROP COLUMN notAfter; DROP TABLE maintenancewindows; ${later.map((name) => `DROP TABLE ${name};`).join(' ')}`);
  const version = current.db.pragma('user_version', { simple: true }) as number;
  current.db.pragma(`user_version = ${schedules}`);
  await current.close();

  const migrated = new SqliteStore(file);
  t.teardown(() => migrated.close());
  t.is(migrated.db.pragma('user_version', { simple: true }), version);
  t.deepEqual(await migrated.listWindows(), []);
  await migrated.insertOperation(operation({ processObjId: 'scheduled', productName: 'beta', notBefore: T0 + 60_000, operationTimestamp: T0 + 1 }));
  t.is((await migrated.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0))?.processObjId, 'old');
  t.is(await migrated.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0), undefined);
  t.is((await migrated.claimNextOperation(MAIN, 'w1', T0 + 120_000, T0 + 60_000))?.processObjId, 'scheduled');
});
