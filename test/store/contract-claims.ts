import type { Operation } from '../../src/domain/operation.ts';
import { type OpenStore, MAIN, T0, ids, insertAll, operation, storeTest } from './builders.ts';

const LEASE = 60_000;

/** The queue's side of the store: atomic claims, one RUNNING operation per processor, leases. */
export function claimContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'claimNextOperation takes the oldest CREATED operation and marks it RUNNING under a lease', async (t, store) => {
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0), undefined);
    // Inserted out of time order: the oldest by operationTimestamp goes first, then by insertion.
    await insertAll(store, [
      operation({ processObjId: 'new', productName: 'alpha', operationTimestamp: T0 + 30 }),
      operation({ processObjId: 'old', productName: 'beta', operationTimestamp: T0 + 10 }),
      operation({ processObjId: 'tie-1', productName: 'gamma', operationTimestamp: T0 + 20 }),
      operation({ processObjId: 'tie-2', productName: 'delta', operationTimestamp: T0 + 20 }),
      operation({ processObjId: 'done', productName: 'omega', operationTimestamp: T0, status: 'DONE' }),
    ]);
    const now = T0 + 1000;
    const claimed = await store.claimNextOperation(MAIN, 'w1', now + LEASE, now);
    const expected: Operation = {
      ...operation({ processObjId: 'old', productName: 'beta', operationTimestamp: T0 + 10 }),
      status: 'RUNNING', leaseOwner: 'w1', leaseExpiresAt: now + LEASE, operationStartTimestamp: now, lastStateChangeTimestamp: now,
    };
    t.deepEqual(claimed, expected);
    t.deepEqual(await store.findOperation('old'), expected);
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await store.claimNextOperation(MAIN, 'w1', now + LEASE, now))?.processObjId);
    t.deepEqual(order, ['tie-1', 'tie-2', 'new', undefined]);
  });

  storeTest(name, open, 'a processor runs one operation at a time: its next one is claimable only once the first left RUNNING', async (t, store) => {
    await insertAll(store, [1, 2, 3].map((i) => operation({ processObjId: `a${i}`, operationTimestamp: T0 + i })));
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0))?.processObjId, 'a1');
    t.is(await store.claimNextOperation(MAIN, 'w2', T0 + LEASE, T0), undefined);
    t.truthy(await store.updateOperation('a1', ['RUNNING'], { status: 'DONE', operationEndTimestamp: T0 + 5 }));
    t.is((await store.claimNextOperation(MAIN, 'w2', T0 + LEASE, T0 + 6))?.processObjId, 'a2');
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0 + 6), undefined);
    t.truthy(await store.updateOperation('a2', ['RUNNING'], { status: 'ERROR' }));
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0 + 7))?.processObjId, 'a3');
  });

  storeTest(name, open, 'different processors are claimed side by side', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'a1', productName: 'alpha', operationTimestamp: T0 + 1 }),
      operation({ processObjId: 'a2', productName: 'alpha', operationTimestamp: T0 + 2 }),
      operation({ processObjId: 'b1', productName: 'beta', operationTimestamp: T0 + 3 }),
    ]);
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0))?.processObjId, 'a1');
    t.is((await store.claimNextOperation(MAIN, 'w2', T0 + LEASE, T0))?.processObjId, 'b1');
    t.is(await store.claimNextOperation(MAIN, 'w3', T0 + LEASE, T0), undefined);
    t.deepEqual(ids(await store.listOperations({ status: 'RUNNING' })), ['b1', 'a1']);
  });

  storeTest(name, open, 'a claim only takes operations of its own nodeCode', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'remote', productName: 'alpha', nodeCode: 'n2', operationTimestamp: T0 }),
      operation({ processObjId: 'local', productName: 'beta', operationTimestamp: T0 + 1 }),
    ]);
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0))?.processObjId, 'local');
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0), undefined);
    t.is((await store.claimNextOperation('n2', 'w9', T0 + LEASE, T0))?.processObjId, 'remote');
    t.is(await store.claimNextOperation('n3', 'w9', T0 + LEASE, T0), undefined);
  });

  storeTest(name, open, 'a cancelled operation is skipped and its processor moves on to the next one', async (t, store) => {
    await insertAll(store, [1, 2].map((i) => operation({ processObjId: `a${i}`, operationTimestamp: T0 + i })));
    t.truthy(await store.updateOperation('a1', ['CREATED'], { status: 'STOPPED' }));
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0))?.processObjId, 'a2');
  });

  storeTest(name, open, 'a RUNNING operation blocks its processor even after its lease lapsed, until it is moved out of RUNNING', async (t, store) => {
    await insertAll(store, [1, 2].map((i) => operation({ processObjId: `a${i}`, operationTimestamp: T0 + i })));
    await store.insertOperation(operation({ processObjId: 'r1', productName: 'beta', status: 'RUNNING', leaseOwner: 'ghost', leaseExpiresAt: T0 }));
    await store.insertOperation(operation({ processObjId: 'b2', productName: 'beta', operationTimestamp: T0 + 1 }));
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + 100, T0))?.processObjId, 'a1');
    // Long after every lease ended: neither processor gives out a second operation.
    const later = T0 + 10 * LEASE;
    t.is(await store.claimNextOperation(MAIN, 'w2', later + LEASE, later), undefined);
    t.deepEqual(ids(await store.listLapsedOperations(MAIN, later)).sort(), ['a1', 'r1']);
    // The queue's recovery: a lapsed operation goes back to CREATED and is claimed again, first.
    t.truthy(await store.updateOperation('a1', ['RUNNING'], { status: 'CREATED', leaseOwner: undefined, leaseExpiresAt: undefined }));
    const again = await store.claimNextOperation(MAIN, 'w2', later + LEASE, later);
    t.is(again?.processObjId, 'a1');
    t.is(again?.leaseOwner, 'w2');
    t.truthy(await store.updateOperation('r1', ['RUNNING'], { status: 'ERROR' }));
    t.is((await store.claimNextOperation(MAIN, 'w2', later + LEASE, later))?.processObjId, 'b2');
  });

  storeTest(name, open, 'concurrent claims never give one operation twice nor two operations of one processor', async (t, store) => {
    const processors = ['p0', 'p1', 'p2', 'p3', 'p4'];
    const rounds = 3;
    await insertAll(store, processors.flatMap((p, pi) => Array.from({ length: rounds }, (_, r) =>
      operation({ processObjId: `${p}-${r}`, productName: p, operationTimestamp: T0 + r * 10 + pi }))));
    const seen = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      const now = T0 + 1000 * (round + 1);
      const results = await Promise.all(Array.from({ length: 16 }, (_, w) => store.claimNextOperation(MAIN, `w${w}`, now + LEASE, now)));
      const claimed = results.filter((r): r is Operation => r !== undefined);
      // Each round gives out exactly the next operation of every processor, once.
      t.deepEqual(ids(claimed).sort(), processors.map((p) => `${p}-${round}`), `round ${round}`);
      for (const op of claimed) {
        t.false(seen.has(op.processObjId));
        seen.add(op.processObjId);
      }
      const running = await store.listOperations({ status: 'RUNNING' });
      t.is(new Set(running.map((o) => o.productName)).size, running.length);
      await Promise.all(claimed.map((op) => store.updateOperation(op.processObjId, ['RUNNING'], { status: 'DONE' })));
    }
    t.is(await store.claimNextOperation(MAIN, 'w0', T0 + 9000 + LEASE, T0 + 9000), undefined);
    t.is(seen.size, processors.length * rounds);
  });

  storeTest(name, open, 'renewLeases extends only RUNNING operations held by that owner', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'a1', productName: 'alpha' }),
      operation({ processObjId: 'b1', productName: 'beta' }),
      operation({ processObjId: 'c1', productName: 'gamma' }),
    ]);
    await store.claimNextOperation(MAIN, 'w1', T0 + 100, T0);
    await store.claimNextOperation(MAIN, 'w2', T0 + 100, T0);
    await store.claimNextOperation(MAIN, 'w1', T0 + 100, T0);
    t.truthy(await store.updateOperation('c1', ['RUNNING'], { status: 'DONE' }));
    await store.renewLeases(['a1', 'b1', 'c1', 'unknown'], 'w1', T0 + 500);
    t.is((await store.findOperation('a1'))?.leaseExpiresAt, T0 + 500);
    t.is((await store.findOperation('b1'))?.leaseExpiresAt, T0 + 100);
    t.is((await store.findOperation('c1'))?.leaseExpiresAt, T0 + 100);
    t.is((await store.findOperation('c1'))?.status, 'DONE');
    await store.renewLeases([], 'w1', T0 + 900);
    t.is((await store.findOperation('a1'))?.leaseExpiresAt, T0 + 500);
  });

  storeTest(name, open, 'listLapsedOperations lists RUNNING operations of the node whose lease ended before now', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'lapsed', productName: 'alpha', status: 'RUNNING', leaseOwner: 'w1', leaseExpiresAt: T0 + 10 }),
      operation({ processObjId: 'edge', productName: 'beta', status: 'RUNNING', leaseOwner: 'w1', leaseExpiresAt: T0 + 20 }),
      operation({ processObjId: 'alive', productName: 'gamma', status: 'RUNNING', leaseOwner: 'w1', leaseExpiresAt: T0 + 99 }),
      operation({ processObjId: 'elsewhere', productName: 'delta', nodeCode: 'n2', status: 'RUNNING', leaseOwner: 'w9', leaseExpiresAt: T0 }),
      operation({ processObjId: 'queued', productName: 'eps', status: 'CREATED' }),
      operation({ processObjId: 'ended', productName: 'zeta', status: 'DONE', leaseOwner: 'w1', leaseExpiresAt: T0 }),
    ]);
    t.deepEqual(ids(await store.listLapsedOperations(MAIN, T0 + 20)), ['lapsed']);
    t.deepEqual(ids(await store.listLapsedOperations(MAIN, T0 + 21)).sort(), ['edge', 'lapsed']);
    t.deepEqual(ids(await store.listLapsedOperations('n2', T0 + 1)), ['elsewhere']);
    await store.renewLeases(['lapsed'], 'w1', T0 + 1000);
    t.deepEqual(ids(await store.listLapsedOperations(MAIN, T0 + 21)), ['edge']);
  });
}
