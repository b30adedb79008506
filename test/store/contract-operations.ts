import type { Operation } from '../../src/domain/operation.ts';
import { type OpenStore, MAIN, T0, ids, insertAll, operation, storeTest } from './builders.ts';

/** Operations as records: insert with idempotency, lookups, the history listing, and the compare-and-set. */
export function operationContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'an inserted operation is found again with every field', async (t, store) => {
    const op = operation({
      processObjId: 'op-1', commands: ['addPackage/numpy/1.26.4', 'removePackage/scipy'], idempotencyKey: 'k-1',
      operationStartTimestamp: T0 + 1, executionStarted: false, error: { code: 'X', message: 'y' },
    });
    t.deepEqual(await store.insertOperation(op), { operation: op, created: true });
    t.deepEqual(await store.findOperation('op-1'), op);
    t.is(await store.findOperation('op-2'), undefined);
  });

  storeTest(name, open, 'an idempotency key already used answers the first operation and stores nothing new', async (t, store) => {
    const first = operation({ processObjId: 'op-1', idempotencyKey: 'k-1' });
    await store.insertOperation(first);
    await store.insertOperation(operation({ processObjId: 'op-x' }));
    const again = await store.insertOperation(operation({ processObjId: 'op-2', idempotencyKey: 'k-1', commands: [] }));
    t.deepEqual(again, { operation: first, created: false });
    t.is(await store.findOperation('op-2'), undefined);
    // Operations without a key never collide with each other.
    t.true((await store.insertOperation(operation({ processObjId: 'op-y' }))).created);
    t.deepEqual(ids(await store.listOperations({})).sort(), ['op-1', 'op-x', 'op-y']);
  });

  storeTest(name, open, 'concurrent inserts with one idempotency key create exactly one operation', async (t, store) => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.insertOperation(operation({ processObjId: `op-${i}`, idempotencyKey: 'same' }))));
    const created = results.filter((r) => r.created);
    t.is(created.length, 1);
    const winner = created[0]!.operation.processObjId;
    t.true(results.every((r) => r.operation.processObjId === winner));
    t.deepEqual(ids(await store.listOperations({})), [winner]);
  });

  storeTest(name, open, 'inserting an existing processObjId is rejected and keeps the first', async (t, store) => {
    const first = operation({ processObjId: 'op-1', commands: ['addPackage/a'] });
    await store.insertOperation(first);
    // `any`: better-sqlite3's SqliteError is not an Error instance as ava sees it.
    await t.throwsAsync(store.insertOperation(operation({ processObjId: 'op-1', commands: ['addPackage/b'] })), { any: true });
    t.deepEqual(await store.findOperation('op-1'), first);
  });

  storeTest(name, open, 'listOperations answers newest first by operationTimestamp, ties in reverse insertion order', async (t, store) => {
    // Inserted out of time order: the listing follows operationTimestamp, not arrival.
    await insertAll(store, [
      operation({ processObjId: 'b', operationTimestamp: T0 + 20 }),
      operation({ processObjId: 'a', operationTimestamp: T0 + 10 }),
      operation({ processObjId: 'c', operationTimestamp: T0 + 30 }),
      operation({ processObjId: 'c2', operationTimestamp: T0 + 30 }),
    ]);
    t.deepEqual(ids(await store.listOperations({})), ['c2', 'c', 'b', 'a']);
  });

  storeTest(name, open, 'listOperations filters by processor, status (one or several), user and node', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'a1', productName: 'alpha', userId: 'ana', operationTimestamp: T0 + 1 }),
      operation({ processObjId: 'a2', productName: 'alpha', userId: 'bob', status: 'DONE', operationTimestamp: T0 + 2 }),
      operation({ processObjId: 'b1', productName: 'beta', userId: 'ana', status: 'ERROR', operationTimestamp: T0 + 3 }),
      operation({ processObjId: 'b2', productName: 'beta', userId: 'ana', nodeCode: 'n2', status: 'RUNNING', operationTimestamp: T0 + 4 }),
    ]);
    t.deepEqual(ids(await store.listOperations({ processorName: 'alpha' })), ['a2', 'a1']);
    t.deepEqual(ids(await store.listOperations({ status: 'DONE' })), ['a2']);
    t.deepEqual(ids(await store.listOperations({ status: ['DONE', 'ERROR'] })), ['b1', 'a2']);
    t.deepEqual(ids(await store.listOperations({ status: [] })), []);
    t.deepEqual(ids(await store.listOperations({ userId: 'ana' })), ['b2', 'b1', 'a1']);
    t.deepEqual(ids(await store.listOperations({ nodeCode: 'n2' })), ['b2']);
    t.deepEqual(ids(await store.listOperations({ nodeCode: MAIN, userId: 'ana', status: ['CREATED', 'ERROR'] })), ['b1', 'a1']);
    t.deepEqual(ids(await store.listOperations({ processorName: 'gamma' })), []);
  });

  storeTest(name, open, 'listOperations since/until bound operationTimestamp inclusively', async (t, store) => {
    await insertAll(store, [10, 20, 30, 40].map((d) => operation({ processObjId: `at-${d}`, operationTimestamp: T0 + d })));
    t.deepEqual(ids(await store.listOperations({ since: T0 + 20 })), ['at-40', 'at-30', 'at-20']);
    t.deepEqual(ids(await store.listOperations({ until: T0 + 20 })), ['at-20', 'at-10']);
    t.deepEqual(ids(await store.listOperations({ since: T0 + 20, until: T0 + 30 })), ['at-30', 'at-20']);
    t.deepEqual(ids(await store.listOperations({ since: T0 + 41 })), []);
  });

  storeTest(name, open, 'listOperations pages with limit and offset, 100 by default', async (t, store) => {
    await insertAll(store, Array.from({ length: 105 }, (_, i) => operation({ processObjId: `op-${String(i).padStart(3, '0')}`, operationTimestamp: T0 + i })));
    const all = await store.listOperations({});
    t.is(all.length, 100);
    t.is(all[0]!.processObjId, 'op-104');
    t.is(all[99]!.processObjId, 'op-005');
    t.deepEqual(ids(await store.listOperations({ limit: 3 })), ['op-104', 'op-103', 'op-102']);
    t.deepEqual(ids(await store.listOperations({ limit: 3, offset: 3 })), ['op-101', 'op-100', 'op-099']);
    t.deepEqual(ids(await store.listOperations({ limit: 10, offset: 100 })), ['op-004', 'op-003', 'op-002', 'op-001', 'op-000']);
    t.deepEqual(await store.listOperations({ limit: 0 }), []);
  });

  storeTest(name, open, 'updateOperation applies the patch while the status is one of from, else answers undefined', async (t, store) => {
    const op = operation({ processObjId: 'op-1' });
    await store.insertOperation(op);
    const stopped: Operation = { ...op, status: 'STOPPED', operationEndTimestamp: T0 + 9, lastStateChangeTimestamp: T0 + 9 };
    t.is(await store.updateOperation('op-1', ['RUNNING'], { status: 'DONE' }), undefined);
    t.deepEqual(await store.findOperation('op-1'), op);
    t.deepEqual(await store.updateOperation('op-1', ['CREATED', 'RUNNING'], { status: 'STOPPED', operationEndTimestamp: T0 + 9, lastStateChangeTimestamp: T0 + 9 }), stopped);
    t.deepEqual(await store.findOperation('op-1'), stopped);
    // Once final, nothing moves it unless the caller names that status.
    t.is(await store.updateOperation('op-1', ['CREATED', 'RUNNING'], { status: 'DONE' }), undefined);
    t.is(await store.updateOperation('op-404', ['CREATED'], { status: 'DONE' }), undefined);
    t.is(await store.findOperation('op-404'), undefined);
  });

  storeTest(name, open, 'updateOperation clears a field patched to undefined and never changes the processObjId', async (t, store) => {
    await store.insertOperation(operation({ processObjId: 'op-1', leaseOwner: 'w1', leaseExpiresAt: T0, error: { code: 'E', message: 'm' } }));
    const updated = await store.updateOperation('op-1', ['CREATED'], { processObjId: 'op-other', leaseOwner: undefined, leaseExpiresAt: undefined, error: undefined, progressPerc: 50 });
    const expected = operation({ processObjId: 'op-1', progressPerc: 50 });
    t.deepEqual(await store.findOperation('op-1'), expected);
    // The answer as the API serializes it (an adapter may answer the cleared keys as present-but-undefined).
    t.deepEqual(JSON.parse(JSON.stringify(updated)), expected);
    t.is(await store.findOperation('op-other'), undefined);
  });

  storeTest(name, open, 'concurrent compare-and-sets from one status: exactly one wins', async (t, store) => {
    await store.insertOperation(operation({ processObjId: 'op-1' }));
    const outcomes = await Promise.all(['DONE', 'STOPPED', 'ERROR', 'DONE', 'STOPPED', 'ERROR'].map((s) =>
      store.updateOperation('op-1', ['CREATED'], { status: s as Operation['status'] })));
    const winners = outcomes.filter((o) => o !== undefined);
    t.is(winners.length, 1);
    t.is((await store.findOperation('op-1'))?.status, winners[0]!.status);
  });
}
