import { ConflictError } from '../../src/domain/errors.ts';
import type { Sharing } from '../../src/domain/user.ts';
import { type OpenStore, T0, processor, storeTest } from './builders.ts';

/** Users, sessions, processors, sharings and nodes: the records the HTTP layer looks up on every request. */
export function recordContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'a saved user is found again, and saving it again replaces its role', async (t, store) => {
    t.is(await store.findUser('ana'), undefined);
    await store.saveUser({ userId: 'ana', role: 'USER' });
    await store.saveUser({ userId: 'bob', role: 'ADMIN' });
    t.deepEqual(await store.findUser('ana'), { userId: 'ana', role: 'USER' });
    await store.saveUser({ userId: 'ana', role: 'ADMIN' });
    t.deepEqual(await store.findUser('ana'), { userId: 'ana', role: 'ADMIN' });
    t.deepEqual(await store.findUser('bob'), { userId: 'bob', role: 'ADMIN' });
  });

  storeTest(name, open, 'a saved session is found by its id; an unknown id is undefined', async (t, store) => {
    const session = { sessionId: 's-1', userId: 'ana', loginDate: T0, lastTouch: T0 + 5 };
    await store.saveSession(session);
    t.deepEqual(await store.findSession('s-1'), session);
    t.is(await store.findSession('s-2'), undefined);
  });

  storeTest(name, open, 'touchSession moves lastTouch only, and never creates a session', async (t, store) => {
    await store.saveSession({ sessionId: 's-1', userId: 'ana', loginDate: T0, lastTouch: T0 });
    await store.touchSession('s-1', T0 + 90_000);
    t.deepEqual(await store.findSession('s-1'), { sessionId: 's-1', userId: 'ana', loginDate: T0, lastTouch: T0 + 90_000 });
    await store.touchSession('ghost', T0);
    t.is(await store.findSession('ghost'), undefined);
  });

  storeTest(name, open, 'removeSession forgets that session and keeps the others', async (t, store) => {
    await store.saveSession({ sessionId: 's-1', userId: 'ana', loginDate: T0, lastTouch: T0 });
    await store.saveSession({ sessionId: 's-2', userId: 'ana', loginDate: T0, lastTouch: T0 });
    await store.removeSession('s-1');
    await store.removeSession('never-existed');
    t.is(await store.findSession('s-1'), undefined);
    t.is((await store.findSession('s-2'))?.sessionId, 's-2');
  });

  storeTest(name, open, 'a saved processor is found by id and by name, isPublic round-trips as a boolean', async (t, store) => {
    const open_ = processor({ processorId: 'p-1', name: 'alpha', isPublic: true, python: '/usr/bin/python3.11', source: 'folder' });
    const closed = processor({ processorId: 'p-2', name: 'beta', isPublic: false, userId: 'bob', type: 'conda' });
    await store.saveProcessor(open_);
    await store.saveProcessor(closed);
    t.deepEqual(await store.findProcessorById('p-1'), open_);
    t.deepEqual(await store.findProcessorByName('alpha'), open_);
    t.deepEqual(await store.findProcessorById('p-2'), closed);
    t.is((await store.findProcessorByName('beta'))?.isPublic, false);
    t.is(await store.findProcessorById('p-3'), undefined);
    t.is(await store.findProcessorByName('gamma'), undefined);
  });

  storeTest(name, open, 'saving a processorId again replaces it: a rename frees the old name, dropped fields go', async (t, store) => {
    await store.saveProcessor(processor({ processorId: 'p-1', name: 'alpha', python: '/usr/bin/python3.11', isPublic: true }));
    const renamed = processor({ processorId: 'p-1', name: 'alpha2', isPublic: false });
    await store.saveProcessor(renamed);
    t.deepEqual(await store.findProcessorById('p-1'), renamed);
    t.is(await store.findProcessorByName('alpha'), undefined);
    t.deepEqual(await store.listProcessors(), [renamed]);
    // The freed name can be taken by another processor.
    await store.saveProcessor(processor({ processorId: 'p-2', name: 'alpha' }));
    t.is((await store.findProcessorByName('alpha'))?.processorId, 'p-2');
  });

  storeTest(name, open, 'a name held by another processorId is a ConflictError and changes nothing', async (t, store) => {
    const alpha = processor({ processorId: 'p-1', name: 'alpha' });
    await store.saveProcessor(alpha);
    await store.saveProcessor(processor({ processorId: 'p-2', name: 'beta' }));
    const err = await t.throwsAsync(store.saveProcessor(processor({ processorId: 'p-3', name: 'alpha' })), { instanceOf: ConflictError });
    t.is(err?.code, 'PROCESSOR_NAME_TAKEN');
    await t.throwsAsync(store.saveProcessor(processor({ processorId: 'p-2', name: 'alpha' })), { instanceOf: ConflictError });
    t.deepEqual(await store.findProcessorByName('alpha'), alpha);
    t.is(await store.findProcessorById('p-3'), undefined);
    t.is((await store.findProcessorById('p-2'))?.name, 'beta');
  });

  storeTest(name, open, 'listProcessors lists every processor sorted by name; removeProcessor deletes one', async (t, store) => {
    for (const [id, n] of [['p-3', 'gamma'], ['p-1', 'alpha'], ['p-2', 'beta']] as const) {
      await store.saveProcessor(processor({ processorId: id, name: n }));
    }
    t.deepEqual((await store.listProcessors()).map((p) => p.name), ['alpha', 'beta', 'gamma']);
    await store.removeProcessor('p-2');
    await store.removeProcessor('p-unknown');
    t.deepEqual((await store.listProcessors()).map((p) => p.name), ['alpha', 'gamma']);
    t.is(await store.findProcessorById('p-2'), undefined);
    t.is(await store.findProcessorByName('beta'), undefined);
  });

  storeTest(name, open, 'sharings: saved, found per (resource, user), replaced, listed per resource by userId', async (t, store) => {
    const share = (resourceId: string, userId: string, permissions: Sharing['permissions']): Sharing => ({
      resourceType: 'processor', resourceId, userId, ownerId: 'owner', permissions, createdBy: 'owner', createdDate: T0,
    });
    await store.saveSharing(share('p-1', 'zoe', 'read'));
    await store.saveSharing(share('p-1', 'ana', 'read'));
    await store.saveSharing(share('p-2', 'ana', 'write'));
    t.deepEqual(await store.findSharing('p-1', 'ana'), share('p-1', 'ana', 'read'));
    t.is(await store.findSharing('p-1', 'bob'), undefined);
    t.is(await store.findSharing('p-3', 'ana'), undefined);
    await store.saveSharing(share('p-1', 'ana', 'write'));
    t.is((await store.findSharing('p-1', 'ana'))?.permissions, 'write');
    t.deepEqual(await store.listSharings('p-1'), [share('p-1', 'ana', 'write'), share('p-1', 'zoe', 'read')]);
    t.deepEqual(await store.listSharings('p-2'), [share('p-2', 'ana', 'write')]);
    t.deepEqual(await store.listSharings('p-3'), []);
  });

  storeTest(name, open, 'nodes: saved, found, replaced, listed by nodeCode', async (t, store) => {
    const n2 = { nodeCode: 'n2', nodeBaseAddress: 'http://127.0.0.1:9002/', active: true };
    const n1 = { nodeCode: 'n1', nodeBaseAddress: 'http://127.0.0.1:9001/', nodeDescription: 'first', active: true };
    await store.saveNode(n2);
    await store.saveNode(n1);
    t.deepEqual(await store.findNode('n2'), n2);
    t.deepEqual(await store.findNode('n1'), n1);
    t.is(await store.findNode('n3'), undefined);
    const n1Off = { nodeCode: 'n1', nodeBaseAddress: 'http://127.0.0.1:9011/', active: false };
    await store.saveNode(n1Off);
    t.deepEqual(await store.listNodes(), [n1Off, n2]);
  });
}
