import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import test from 'ava';
import { MongoClient } from 'mongodb';
import type { Operation } from '../../src/domain/operation.ts';
import { MongoStore } from '../../src/store/mongodb/mongo-store.ts';
import { MAIN, T0, ids, operation, processor } from './builders.ts';
import { storeContract } from './contract.ts';
import { assertNoDoubleClaims, queueWork, runWorkers } from './cross-process.ts';

/**
 * The MongoDB adapter against a real server. No server can run on the build machine, so this file needs
 * MONGODB_URL (e.g. mongodb://127.0.0.1:27017); every store it opens gets a fresh database, dropped at the end.
 */
const url = process.env.MONGODB_URL;

test('mongodb: connect without a connection string rejects with a message naming MONGODB_URL', async (t) => {
  await t.throwsAsync(MongoStore.connect('', 'wasdi'), { message: /MONGODB_URL/ });
});

test('mongodb: connect to a port where no server listens rejects instead of hanging', async (t) => {
  // A loopback port that was free a moment ago; the short selection timeout keeps the test quick.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const started = Date.now();
  await t.throwsAsync(MongoStore.connect(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300`, 'wasdi'));
  t.true(Date.now() - started < 10_000);
});

if (!url) {
  test.skip('MongoDB contract suite skipped: set MONGODB_URL to run it', () => {});
} else {
  const databases: string[] = [];
  let counter = 0;
  const freshDatabase = (): string => {
    const name = `procenv_test_${process.pid}_${counter++}_${randomBytes(3).toString('hex')}`;
    databases.push(name);
    return name;
  };
  const admin = new MongoClient(url);
  test.after.always(async () => {
    for (const name of databases) await admin.db(name).dropDatabase().catch(() => undefined);
    await admin.close();
  });

  storeContract('mongodb', () => MongoStore.connect(url, freshDatabase()), {
    eventsAfterWrite: 'MongoDB is used without transactions, so events are journaled right after their write (src/store/mongodb/event-journal.ts)',
  });

  const openFresh = async (t: { teardown(fn: () => Promise<void>): void }) => {
    const store = await MongoStore.connect(url, freshDatabase());
    t.teardown(() => store.close());
    return store;
  };

  test('mongodb: processors keep WASDI shapes: isPublic stored as 0/1, WASDI fields kept, only procenv fields read', async (t) => {
    const store = await openFresh(t);
    const raw = store.db.collection('processors');
    await store.saveProcessor(processor({ processorId: 'p-1', name: 'alpha', isPublic: false }));
    t.is((await raw.findOne({ processorId: 'p-1' }))?.isPublic, 0);
    // A processor WASDI wrote: no isPublic (WASDI's default is public) and fields procenv does not know.
    await raw.insertOne({ processorId: 'p-2', name: 'beta', type: 'python312', userId: 'ana', port: 5001, version: '3' });
    t.deepEqual(await store.findProcessorByName('beta'), { processorId: 'p-2', name: 'beta', type: 'python312', userId: 'ana', isPublic: true });
    await store.saveProcessor(processor({ processorId: 'p-2', name: 'beta', userId: 'ana', isPublic: true }));
    const stored = await raw.findOne({ processorId: 'p-2' });
    t.is(stored?.isPublic, 1);
    t.is(stored?.port, 5001);
    // Sessions and users keep WASDI's field names, so WASDI's own sessions authenticate here.
    await store.db.collection('sessions').insertOne({ sessionId: 'wasdi-s', userId: 'ana', loginDate: T0, lastTouch: T0 });
    t.deepEqual(await store.findSession('wasdi-s'), { sessionId: 'wasdi-s', userId: 'ana', loginDate: T0, lastTouch: T0 });
  });

  test('mongodb: WASDI operations of other types in processworkspace are never listed nor claimed', async (t) => {
    const store = await openFresh(t);
    await store.db.collection('processworkspace').insertOne({
      processObjId: 'wasdi-run', operationType: 'RUNPROCESSOR', productName: 'alpha', status: 'CREATED', nodeCode: MAIN, operationTimestamp: T0 - 1,
    });
    await store.insertOperation(operation({ processObjId: 'ours' }));
    t.deepEqual(ids(await store.listOperations({})), ['ours']);
    t.is(await store.findOperation('wasdi-run'), undefined);
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0))?.processObjId, 'ours');
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0), undefined);
  });

  test('mongodb: a stale processor lock is taken over, a lock on a RUNNING operation never', async (t) => {
    const store = await openFresh(t);
    const locks = store.db.collection<{ _id: string; processObjId: string; owner: string; leaseExpiresAt: number; token: string }>('processorlocks');
    await store.insertOperation(operation({ processObjId: 'a1', productName: 'alpha' }));
    await store.insertOperation(operation({ processObjId: 'b0', productName: 'beta', status: 'DONE' }));
    await store.insertOperation(operation({ processObjId: 'b1', productName: 'beta', operationTimestamp: T0 + 1 }));
    // A claimer died between taking alpha's lock and claiming a1: its lease protects it until T0 + 100.
    await locks.insertOne({ _id: 'alpha', processObjId: 'a1', owner: 'dead', leaseExpiresAt: T0 + 100, token: 'x' });
    // beta's lock names an operation that already ended (its worker died before releasing it).
    await locks.insertOne({ _id: 'beta', processObjId: 'b0', owner: 'dead', leaseExpiresAt: T0 + 100, token: 'y' });
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0 + 50), undefined, 'fresh locks are respected');
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0 + 101))?.processObjId, 'a1');
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0 + 101))?.processObjId, 'b1');
    await store.insertOperation(operation({ processObjId: 'a2', productName: 'alpha', operationTimestamp: T0 + 2 }));
    t.is(await store.claimNextOperation(MAIN, 'w2', T0 + 10 * 60_000, T0 + 5 * 60_000), undefined, 'a1 is RUNNING: its lock holds');
    t.truthy(await store.updateOperation('a1', ['RUNNING'], { status: 'DONE' }));
    t.is(await locks.findOne({ _id: 'alpha' }), null, 'leaving RUNNING releases the lock');
    t.is((await store.claimNextOperation(MAIN, 'w2', T0 + 10 * 60_000, T0 + 5 * 60_000))?.processObjId, 'a2');
  });

  test('mongodb: two clients on one database never claim one operation twice nor two of one processor', async (t) => {
    const database = freshDatabase();
    const [a, b] = await Promise.all([MongoStore.connect(url, database), MongoStore.connect(url, database)]);
    t.teardown(async () => {
      await a.close();
      await b.close();
    });
    await queueWork(a, ['p0', 'p1', 'p2'], 3);
    for (let round = 0; round < 3; round++) {
      const now = T0 + 1000 * (round + 1);
      const results = await Promise.all([a, b, a, b, a, b, a, b].map((s, i) => s.claimNextOperation(MAIN, `w${i}`, now + 60_000, now)));
      const got = results.filter((r): r is Operation => r !== undefined);
      t.deepEqual(ids(got).sort(), [`p0-${round}`, `p1-${round}`, `p2-${round}`]);
      await Promise.all(got.map((op, i) => (i % 2 ? a : b).updateOperation(op.processObjId, ['RUNNING'], { status: 'DONE' })));
    }
  });

  test('mongodb: worker processes sharing one database never double-claim and keep each processor in order', async (t) => {
    const database = freshDatabase();
    const setup = await MongoStore.connect(url, database);
    const ops = await queueWork(setup, ['p0', 'p1', 'p2', 'p3'], 8);
    await setup.close();
    assertNoDoubleClaims(t, await runWorkers(3, ['mongodb', database], { MONGODB_URL: url }), ops);
  });
}
