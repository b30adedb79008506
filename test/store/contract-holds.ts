import type { Hold } from '../../src/domain/holds.ts';
import { type OpenStore, T0, storeTest } from './builders.ts';

const hold = (processorName: string, key: string, extra: Partial<Hold> = {}): Hold => ({
  processorName, package: key, key, reason: `keep ${key}`, userId: 'owner', createdAt: T0, ...extra,
});

/** Holds: one per processor and package key, listed in order, replaced whole on a compute node. */
export function holdContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'a hold is stored once per processor and package key, listed in order, and removed', async (t, store) => {
    await store.saveHold(hold('beta', 'numpy'));
    await store.saveHold(hold('alpha', 'requests', { version: '2.28.1' }));
    await store.saveHold(hold('alpha', 'numpy'));
    await store.saveHold(hold('alpha', 'numpy', { package: 'NumPy', reason: 'changed', createdAt: T0 + 5 }));
    t.deepEqual((await store.listHolds('alpha')).map((h) => [h.key, h.package, h.reason]), [['numpy', 'NumPy', 'changed'], ['requests', 'requests', 'keep requests']]);
    t.like((await store.listHolds('alpha'))[1], { version: '2.28.1', userId: 'owner', createdAt: T0 });
    t.deepEqual((await store.listHolds()).map((h) => `${h.processorName}/${h.key}`), ['alpha/numpy', 'alpha/requests', 'beta/numpy']);
    t.true(await store.removeHold('alpha', 'numpy'));
    t.false(await store.removeHold('alpha', 'numpy'), 'a second removal finds nothing');
    t.deepEqual((await store.listHolds('alpha')).map((h) => h.key), ['requests']);
    t.deepEqual(await store.listHolds('gamma'), []);
  });

  storeTest(name, open, 'replaceHolds makes a processor\'s holds exactly the ones given and leaves the others alone', async (t, store) => {
    await store.saveHold(hold('alpha', 'numpy'));
    await store.saveHold(hold('alpha', 'scipy'));
    await store.saveHold(hold('beta', 'numpy'));
    await store.replaceHolds('alpha', [hold('alpha', 'scipy', { reason: 'new reason' }), hold('alpha', 'gdal')]);
    t.deepEqual((await store.listHolds('alpha')).map((h) => [h.key, h.reason]), [['gdal', 'keep gdal'], ['scipy', 'new reason']]);
    t.deepEqual((await store.listHolds('beta')).map((h) => h.key), ['numpy']);
    await store.replaceHolds('alpha', []);
    t.deepEqual(await store.listHolds('alpha'), []);
  });
}
