import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { waitUntil } from '../helpers/cluster.ts';
import { startTestService } from '../helpers/service.ts';

// The three sample processors (test/helpers/service.ts copies them): sample_pip (public, numpy 1.24.4 outdated),
// sample_oneshot (private, numpy 1.26.4 outdated), sample_conda (public, numpy 1.21.5), all owned by demo.

test.serial('summary, search and count answer from the index, for the processors the caller can read, and follow a snapshot changed on disk', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const [owner, stranger, admin] = [await svc.login('demo'), await svc.login('stranger'), await svc.login('root', { admin: true })];
  const get = async (path: string, token: string, searchParams: Record<string, string> = {}) => {
    const res = await svc.http.get(path, { headers: { 'x-session-token': token }, searchParams });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };

  const summary = (await get('packages/summary', owner)).body;
  t.deepEqual(summary, [
    { manager: 'conda', type: 'conda', processors: 1, totalPackages: 4, uniquePackages: 4, outdatedPackages: 0, heldPackages: 0 },
    { manager: 'pip', type: 'pip_oneshot', processors: 1, totalPackages: 3, uniquePackages: 3, outdatedPackages: 1, heldPackages: 0 },
    { manager: 'pip', type: 'python_pip_2', processors: 1, totalPackages: 7, uniquePackages: 7, outdatedPackages: 3, heldPackages: 0 },
  ]);
  // The private processor counts for its owner and an admin, not for anyone else.
  t.deepEqual((await get('packages/summary', stranger)).body.map((r: { type: string }) => r.type), ['conda', 'python_pip_2']);
  t.deepEqual((await get('packages/summary', admin)).body, summary);

  const numpy = (await get('packages/search', owner, { q: 'NumPy' })).body;
  t.deepEqual(numpy, [
    { name: 'numpy', manager: 'conda', installed: [{ processor: 'sample_conda', version: '1.21.5' }], upgradable: [], held: [] },
    {
      name: 'numpy', manager: 'pip',
      installed: [{ processor: 'sample_oneshot', version: '1.26.4' }, { processor: 'sample_pip', version: '1.24.4' }],
      upgradable: [{ processor: 'sample_oneshot', version: '1.26.4', latest: '2.1.0' }, { processor: 'sample_pip', version: '1.24.4', latest: '2.0.2' }],
      held: [],
    },
  ]);
  t.deepEqual((await get('packages/search', stranger, { q: 'numpy', manager: 'pip' })).body[0].installed, [{ processor: 'sample_pip', version: '1.24.4' }]);
  // A substring, an exact name first; pip names compared as PEP 503 normalises them.
  t.deepEqual((await get('packages/search', owner, { q: 'as' })).body.map((r: { name: string }) => r.name), ['pandas', 'rasterio', 'wasdi']);
  t.deepEqual((await get('packages/search', owner, { q: 'py' })).body.map((r: { name: string }) => r.name), ['numpy', 'numpy', 'python', 'scipy']);
  t.deepEqual((await get('packages/search', owner, { q: 'python' })).body.map((r: { name: string }) => r.name), ['python'], 'an exact name');
  t.deepEqual((await get('packages/search', owner, { q: 'shapely' })).body.map((r: { name: string }) => r.name), ['Shapely']);
  t.deepEqual((await get('packages/search', owner, { upgradable: 'true' })).body.map((r: { name: string }) => r.name), ['numpy', 'requests', 'Shapely']);
  t.deepEqual((await get('packages/search', owner, { type: 'pip_oneshot', upgradable: 'false' })).body.map((r: { name: string }) => r.name), ['pandas', 'wasdi']);
  t.deepEqual((await get('packages/search', owner, { limit: '2', offset: '1' })).body.map((r: { name: string }) => r.name), ['gdal', 'numpy']);
  t.deepEqual((await get('packages/search', owner, { installed: 'false' })).body, []);
  t.deepEqual((await get('packages/search/count', owner, { q: 'numpy' })).body, { total: 2, byManager: { conda: 1, pip: 1 }, byType: { conda: 1, pip_oneshot: 1, python_pip_2: 1 } });
  t.deepEqual((await get('packages/search/count', stranger, { q: 'numpy' })).body, { total: 2, byManager: { conda: 1, pip: 1 }, byType: { conda: 1, python_pip_2: 1 } });

  // A hold shows at once: in the summary, in the row, and through the held filter.
  await svc.store.saveHold({ processorName: 'sample_pip', package: 'requests', key: 'requests', reason: 'api freeze', userId: 'demo', createdAt: Date.now() });
  t.like((await get('packages/summary', owner)).body[2], { type: 'python_pip_2', heldPackages: 1 });
  t.deepEqual((await get('packages/search', owner, { held: 'true' })).body.map((r: { name: string; held: unknown }) => [r.name, r.held]), [['requests', [{ processor: 'sample_pip' }]]]);
  t.is((await get('packages/search', owner, { held: 'false', upgradable: 'true' })).body.length, 2, 'numpy and Shapely');

  // A snapshot rewritten by another hand: the next search has it, without a restart.
  const file = join(svc.catalog.folderOf('sample_pip'), 'packagesInfo.json');
  const info = JSON.parse(readFileSync(file, 'utf8'));
  info.uptodate.push({ managerName: 'pip', packageName: 'xarray', currentVersion: '2024.1.0', currentBuild: null, latestVersion: null, type: null, channel: null });
  writeFileSync(file, JSON.stringify(info));
  const xarray = await waitUntil('xarray found', async () => {
    const rows = (await get('packages/search', owner, { q: 'xarray' })).body;
    return rows.length === 1 && rows;
  });
  t.deepEqual(xarray[0].installed, [{ processor: 'sample_pip', version: '2024.1.0' }]);
});

test.serial('the inventory routes answer 400 for bad parameters and 401 without a session', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const cases: [string, Record<string, string>, number, string][] = [
    ['packages/search', { manager: 'npm' }, 400, 'INVALID_PARAMETER'],
    ['packages/search', { upgradable: 'maybe' }, 400, 'INVALID_PARAMETER'],
    ['packages/search', { limit: '0' }, 400, 'INVALID_PARAMETER'],
    ['packages/search', { q: 'x'.repeat(201) }, 400, 'INVALID_PARAMETER'],
    ['packages/search/count', { installed: 'no' }, 400, 'INVALID_PARAMETER'],
  ];
  for (const [path, searchParams, status, code] of cases) {
    const res = await svc.http.get(path, { headers: { 'x-session-token': token }, searchParams });
    t.deepEqual([res.statusCode, JSON.parse(res.body).error.code], [status, code], `${path} ${JSON.stringify(searchParams)}`);
  }
  const anonymous = await svc.http.get('packages/summary');
  t.is(anonymous.statusCode, 401);
});
