import type { MaintenanceWindow } from '../../src/domain/schedules.ts';
import { type OpenStore, MAIN, T0, ids, insertAll, operation, storeTest } from './builders.ts';

const LEASE = 60_000;

const window = (name: string, extra: Partial<MaintenanceWindow> = {}): MaintenanceWindow => ({
  name, schedule: '0 2 * * *', durationMinutes: 60, timezone: 'UTC', userId: 'admin', createdAt: T0, updatedAt: T0, ...extra,
});

/** Scheduled operations in the queue (notBefore, notAfter) and the maintenance windows they wait for. */
export function scheduleContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'a claim takes no operation before its notBefore, and takes it from then on', async (t, store) => {
    await insertAll(store, [operation({ processObjId: 'later', notBefore: T0 + 5_000 })]);
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0), undefined);
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + 4_999 + LEASE, T0 + 4_999), undefined);
    const claimed = await store.claimNextOperation(MAIN, 'w1', T0 + 5_000 + LEASE, T0 + 5_000);
    t.is(claimed?.processObjId, 'later');
    t.is(claimed?.notBefore, T0 + 5_000, 'the planned start stays on the record');
  });

  storeTest(name, open, 'a waiting scheduled operation does not block later operations of its processor, and one RUNNING at a time still holds', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'scheduled', operationTimestamp: T0, notBefore: T0 + 10_000 }),
      operation({ processObjId: 'next', operationTimestamp: T0 + 1 }),
      operation({ processObjId: 'after', operationTimestamp: T0 + 2 }),
    ]);
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0 + 100))?.processObjId, 'next');
    t.is(await store.claimNextOperation(MAIN, 'w2', T0 + LEASE, T0 + 100), undefined, 'the processor is busy');
    t.truthy(await store.updateOperation('next', ['RUNNING'], { status: 'DONE' }));
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0 + 200))?.processObjId, 'after');
    t.truthy(await store.updateOperation('after', ['RUNNING'], { status: 'DONE' }));
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0 + 300), undefined, 'the scheduled one still waits');
    // From its time on it is the oldest again.
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + 10_000 + LEASE, T0 + 10_000))?.processObjId, 'scheduled');
  });

  storeTest(name, open, 'a claim never takes an operation at or after its notAfter; listMissedOperations finds it', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'missed', productName: 'alpha', notBefore: T0, notAfter: T0 + 1_000, window: 'nightly', operationTimestamp: T0 }),
      operation({ processObjId: 'open', productName: 'beta', notBefore: T0, notAfter: T0 + 60_000, window: 'nightly', operationTimestamp: T0 + 1 }),
      operation({ processObjId: 'plain', productName: 'gamma', operationTimestamp: T0 + 2 }),
      operation({ processObjId: 'elsewhere', productName: 'delta', nodeCode: 'n2', notAfter: T0, operationTimestamp: T0 + 3 }),
    ]);
    const now = T0 + 1_000;
    t.deepEqual(ids(await store.listMissedOperations(MAIN, now, 10)), ['missed']);
    t.deepEqual(ids(await store.listMissedOperations(MAIN, now - 1, 10)), [], 'not missed before its close');
    t.deepEqual(ids(await store.listMissedOperations(MAIN, now, 0)), []);
    const taken = [];
    for (let i = 0; i < 3; i++) taken.push((await store.claimNextOperation(MAIN, `w${i}`, now + LEASE, now))?.processObjId);
    t.deepEqual(taken, ['open', 'plain', undefined]);
    t.is((await store.findOperation('missed'))?.status, 'CREATED');
  });

  storeTest(name, open, 'moving an operation to a later opening changes what the claim and the sweep see', async (t, store) => {
    await insertAll(store, [operation({ processObjId: 'moved', notBefore: T0, notAfter: T0 + 1_000, window: 'nightly' })]);
    const next = await store.updateOperation('moved', ['CREATED'], { notBefore: T0 + 86_400_000, notAfter: T0 + 86_401_000, rescheduled: 1 });
    t.like(next, { status: 'CREATED', notBefore: T0 + 86_400_000, notAfter: T0 + 86_401_000, rescheduled: 1 });
    t.deepEqual(await store.listMissedOperations(MAIN, T0 + 2_000, 10), []);
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + LEASE, T0 + 500), undefined, 'its old opening no longer counts');
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + 86_400_500 + LEASE, T0 + 86_400_500))?.processObjId, 'moved');
  });

  storeTest(name, open, 'listOperations filters by window', async (t, store) => {
    await insertAll(store, [
      operation({ processObjId: 'n1', window: 'nightly', operationTimestamp: T0 + 1 }),
      operation({ processObjId: 'w1', window: 'weekend', operationTimestamp: T0 + 2 }),
      operation({ processObjId: 'none', operationTimestamp: T0 + 3 }),
      operation({ processObjId: 'n2', window: 'nightly', status: 'DONE', operationTimestamp: T0 + 4 }),
    ]);
    t.deepEqual(ids(await store.listOperations({ window: 'nightly' })), ['n2', 'n1']);
    t.deepEqual(ids(await store.listOperations({ window: 'nightly', status: 'CREATED' })), ['n1']);
  });

  storeTest(name, open, 'maintenance windows are stored once per name, replaced whole, listed by name and removed', async (t, store) => {
    t.is(await store.findWindow('nightly'), undefined);
    await store.saveWindow(window('weekend', { schedule: { days: ['sat', 'sun'], time: '02:00' }, timezone: 'Europe/Rome' }));
    await store.saveWindow(window('nightly'));
    await store.saveWindow(window('nightly', { durationMinutes: 90, updatedAt: T0 + 5 }));
    t.deepEqual(await store.findWindow('nightly'), window('nightly', { durationMinutes: 90, updatedAt: T0 + 5 }));
    t.deepEqual((await store.listWindows()).map((w) => w.name), ['nightly', 'weekend']);
    t.deepEqual((await store.findWindow('weekend'))?.schedule, { days: ['sat', 'sun'], time: '02:00' });
    t.true(await store.removeWindow('nightly'));
    t.false(await store.removeWindow('nightly'));
    t.deepEqual((await store.listWindows()).map((w) => w.name), ['weekend']);
  });
}
