import type { Delivery, SyncState } from '../../src/domain/cluster.ts';
import { type OpenStore, T0, delivery, pairs, storeTest } from './builders.ts';

/** The main node's fan-out records and a compute node's catch-up position. */
export function clusterContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'deliveries: one per (operation, node); inserting an existing pair leaves it as it is', async (t, store) => {
    const first = delivery('op-1', 'n1', { createdAt: T0 });
    await store.insertDeliveries([first, delivery('op-1', 'n2', { createdAt: T0 + 1 })]);
    await store.insertDeliveries([delivery('op-1', 'n1', { state: 'failed', createdAt: T0 + 2 }), delivery('op-2', 'n1', { createdAt: T0 + 3 })]);
    await store.insertDeliveries([]);
    const all = await store.listDeliveries({});
    t.deepEqual(pairs(all), ['op-1@n1', 'op-1@n2', 'op-2@n1']);
    t.deepEqual(all[0], first);
  });

  storeTest(name, open, 'listDeliveries filters by operation, node, states and due time, oldest first, at most limit', async (t, store) => {
    await store.insertDeliveries([
      delivery('op-1', 'n1', { createdAt: T0, nextAttemptAt: T0 + 50 }),
      delivery('op-1', 'n2', { createdAt: T0 + 1, state: 'delivered', nextAttemptAt: T0 }),
      delivery('op-2', 'n1', { createdAt: T0 + 2, nextAttemptAt: T0 + 10 }),
      delivery('op-2', 'n2', { createdAt: T0 + 3, state: 'applied' }),
    ]);
    t.deepEqual(pairs(await store.listDeliveries({ operationId: 'op-2' })), ['op-2@n1', 'op-2@n2']);
    t.deepEqual(pairs(await store.listDeliveries({ nodeCode: 'n2' })), ['op-1@n2', 'op-2@n2']);
    t.deepEqual(pairs(await store.listDeliveries({ states: ['delivered', 'applied'] })), ['op-1@n2', 'op-2@n2']);
    t.deepEqual(pairs(await store.listDeliveries({ states: [] })), []);
    // Due: pending ones whose next attempt is at or before the time; a delivered one is never due.
    t.deepEqual(pairs(await store.listDeliveries({ dueBefore: T0 + 10 })), ['op-2@n1']);
    t.deepEqual(pairs(await store.listDeliveries({ dueBefore: T0 + 50 })), ['op-1@n1', 'op-2@n1']);
    t.deepEqual(pairs(await store.listDeliveries({ dueBefore: T0 + 50, nodeCode: 'n1', limit: 1 })), ['op-1@n1']);
    t.deepEqual(pairs(await store.listDeliveries({ limit: 2 })), ['op-1@n1', 'op-1@n2']);
  });

  storeTest(name, open, 'updateDelivery applies the patch only from the named states', async (t, store) => {
    await store.insertDeliveries([delivery('op-1', 'n1'), delivery('op-1', 'n2')]);
    t.is(await store.updateDelivery('op-1', 'n1', ['delivered'], { state: 'applied' }), undefined);
    const delivered = await store.updateDelivery('op-1', 'n1', ['pending'], {
      state: 'delivered', attempts: 1, updatedAt: T0 + 5, remoteOperationId: 'remote-1', operationId: 'op-other',
    });
    const expected = delivery('op-1', 'n1', { state: 'delivered', attempts: 1, updatedAt: T0 + 5, remoteOperationId: 'remote-1' });
    t.deepEqual(delivered, expected);
    t.deepEqual(await store.listDeliveries({ operationId: 'op-1', nodeCode: 'n1' }), [expected]);
    t.is((await store.listDeliveries({ operationId: 'op-1', nodeCode: 'n2' }))[0]?.state, 'pending');
    t.is(await store.updateDelivery('op-9', 'n1', ['pending'], { state: 'failed' }), undefined);
    const racers = await Promise.all(['applied', 'failed', 'applied'].map((s) =>
      store.updateDelivery('op-1', 'n2', ['pending'], { state: s as Delivery['state'] })));
    t.is(racers.filter((r) => r !== undefined).length, 1);
  });

  storeTest(name, open, 'history epochs: "0" until the first reset, then a new id per reset, per processor', async (t, store) => {
    t.is(await store.findHistoryEpoch('alpha'), '0');
    const e1 = await store.newHistoryEpoch('alpha');
    t.not(e1, '0');
    t.is(await store.findHistoryEpoch('alpha'), e1);
    const e2 = await store.newHistoryEpoch('alpha');
    t.not(e2, e1);
    t.is(await store.findHistoryEpoch('alpha'), e2);
    t.is(await store.findHistoryEpoch('beta'), '0');
  });

  storeTest(name, open, 'sync states: saved, found per processor, replaced whole', async (t, store) => {
    t.is(await store.findSyncState('alpha'), undefined);
    const syncing: SyncState = { processorName: 'alpha', epoch: 'e1', applied: 3, syncOperationId: 'op-7', syncTarget: 5, lastSyncAt: T0 };
    await store.saveSyncState(syncing);
    await store.saveSyncState({ processorName: 'beta', epoch: '0', applied: 0 });
    t.deepEqual(await store.findSyncState('alpha'), syncing);
    const done: SyncState = { processorName: 'alpha', epoch: 'e1', applied: 5, lastSyncAt: T0 + 1 };
    await store.saveSyncState(done);
    t.deepEqual(await store.findSyncState('alpha'), done);
    t.deepEqual(await store.findSyncState('beta'), { processorName: 'beta', epoch: '0', applied: 0 });
  });
}
