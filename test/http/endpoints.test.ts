import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import {
  SAMPLES, assertError, endpointPath, json, rawGet, serviceFor, tokenHeader, type Answer,
} from './support.ts';

// Every endpoint × every status it can answer (issue "The service"; reference/wasdi-package-manager.md §1).

type Pkg = Record<string, string>;

const folderOf = (svc: { config: { processorsDir: string } }, name: string) => join(svc.config.processorsDir, name);
const snapshotFile = (svc: { config: { processorsDir: string } }, name: string) => join(folderOf(svc, name), 'packagesInfo.json');
const actionsFile = (svc: { config: { processorsDir: string } }, name: string) => join(folderOf(svc, name), 'envActionsList.txt');

async function get(svc: Parameters<typeof rawGet>[0], path: string, token?: string): Promise<Answer> {
  return rawGet(svc, path, tokenHeader(token));
}

// ---------------------------------------------------------------- listPackages

test('listPackages of the Java-form snapshot joins outdated and uptodate, sorted ignoring case, nulls left out', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('listPackages', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  t.deepEqual(json<Pkg[]>(res), [
    { managerName: 'pip', packageName: 'numpy', currentVersion: '1.24.4', latestVersion: '2.0.2', type: 'wheel' },
    { managerName: 'pip', packageName: 'pip', currentVersion: '22.0.2' },
    { managerName: 'pip', packageName: 'rasterio', currentVersion: '1.3.9' },
    { managerName: 'pip', packageName: 'requests', currentVersion: '2.28.1', latestVersion: '2.32.3', type: 'wheel' },
    { managerName: 'pip', packageName: 'scipy', currentVersion: '1.10.1' },
    { managerName: 'pip', packageName: 'Shapely', currentVersion: '1.8.5', latestVersion: '2.0.6', type: 'wheel' },
    { managerName: 'pip', packageName: 'wasdi', currentVersion: '0.8.7.3' },
  ]);
  t.false(res.body.includes('null'), 'no null field reaches the JSON');
});

test('listPackages of the one-shot Python-form snapshot (absent fields, string versions) is served', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('listPackages', SAMPLES.oneshot), await svc.login('demo'));
  t.is(res.status, 200);
  t.deepEqual(json<Pkg[]>(res), [
    { managerName: 'pip', packageName: 'numpy', currentVersion: '1.26.4', latestVersion: '2.1.0', type: 'wheel' },
    { managerName: 'pip', packageName: 'pandas', currentVersion: '2.2.2' },
    { managerName: 'pip', packageName: 'wasdi', currentVersion: '0.8.7.3' },
  ]);
});

test('listPackages of a conda snapshot serves "all", with _libgcc_mutex sorted first as Java does', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('listPackages', SAMPLES.conda), await svc.login('demo'));
  t.is(res.status, 200);
  const list = json<Pkg[]>(res);
  t.deepEqual(list.map((p) => p.packageName), ['_libgcc_mutex', 'gdal', 'numpy', 'python']);
  t.deepEqual(list[0], { managerName: 'conda', packageName: '_libgcc_mutex', currentVersion: '0.1', currentBuild: 'main' });
  t.deepEqual(list[2], { managerName: 'conda', packageName: 'numpy', currentVersion: '1.21.5', currentBuild: 'py39h6c91a56_3', channel: 'conda-forge' });
});

test('listPackages joins outdated, uptodate and all, keeps duplicates and sorts by lower-cased name', async (t) => {
  const svc = await serviceFor(t);
  writeFileSync(snapshotFile(svc, SAMPLES.pip.name), JSON.stringify({
    packageManager: null,
    outdated: [{ packageName: 'Zeta', currentVersion: '1' }, { packageName: 'beta', currentVersion: 'outdated' }],
    uptodate: [{ packageName: 'Beta', currentVersion: 'uptodate' }, { packageName: '_under', currentVersion: '1' }],
    all: [{ packageName: 'alpha', currentVersion: '1', channel: null }, { packageName: 'BETA', currentVersion: 'all' }],
  }));
  const res = await get(svc, endpointPath('listPackages', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  // '_' sorts before letters only once letters are lower-cased (Java's CASE_INSENSITIVE_ORDER); ties keep
  // section order (outdated, uptodate, all) because Java's sort is stable.
  t.deepEqual(json<Pkg[]>(res), [
    { packageName: '_under', currentVersion: '1' },
    { packageName: 'alpha', currentVersion: '1' },
    { packageName: 'beta', currentVersion: 'outdated' },
    { packageName: 'Beta', currentVersion: 'uptodate' },
    { packageName: 'BETA', currentVersion: 'all' },
    { packageName: 'Zeta', currentVersion: '1' },
  ]);
});

test('listPackages without a snapshot answers 200 []', async (t) => {
  const svc = await serviceFor(t);
  rmSync(snapshotFile(svc, SAMPLES.pip.name));
  const res = await get(svc, endpointPath('listPackages', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  t.deepEqual(json(res), []);
});

test('listPackages of an empty snapshot answers 500 with a JSON error', async (t) => {
  const svc = await serviceFor(t);
  writeFileSync(snapshotFile(svc, SAMPLES.pip.name), '');
  assertError(t, await get(svc, endpointPath('listPackages', SAMPLES.pip), await svc.login('demo')), 500, 'SNAPSHOT_EMPTY');
});

test('listPackages of a snapshot that is not JSON answers 500 with a JSON error', async (t) => {
  const svc = await serviceFor(t);
  writeFileSync(snapshotFile(svc, SAMPLES.pip.name), '{"outdated": [');
  assertError(t, await get(svc, endpointPath('listPackages', SAMPLES.pip), await svc.login('demo')), 500, 'SNAPSHOT_UNREADABLE');
});

test('listPackages of a snapshot with an entry without packageName answers 500 (WASDI\'s sort throws)', async (t) => {
  const svc = await serviceFor(t);
  writeFileSync(snapshotFile(svc, SAMPLES.pip.name), JSON.stringify({ uptodate: [{ packageName: 'a' }, { packageName: null }] }));
  assertError(t, await get(svc, endpointPath('listPackages', SAMPLES.pip), await svc.login('demo')), 500, 'SNAPSHOT_UNREADABLE');
});

test('listPackages of an unknown processor answers 403', async (t) => {
  const svc = await serviceFor(t);
  assertError(t, await get(svc, '/packageManager/listPackages?name=no_such_processor', await svc.login('demo')), 403, 'PROCESSOR_NOT_ACCESSIBLE');
});

test('listPackages without a name answers 400, an empty name too', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  assertError(t, await get(svc, '/packageManager/listPackages', token), 400, 'MISSING_PARAMETER');
  assertError(t, await get(svc, '/packageManager/listPackages?name=', token), 400, 'MISSING_PARAMETER');
});

test('listPackages without a session answers 401 before looking at the parameters', async (t) => {
  const svc = await serviceFor(t);
  assertError(t, await get(svc, endpointPath('listPackages', SAMPLES.pip)), 401, 'UNAUTHENTICATED');
  assertError(t, await get(svc, '/packageManager/listPackages'), 401, 'UNAUTHENTICATED');
});

test('listPackages and managerVersion are served on a compute node too', async (t) => {
  const svc = await serviceFor(t, { nodeCode: 'node-eu-2' });
  const token = await svc.login('demo');
  const res = await get(svc, endpointPath('listPackages', SAMPLES.pip), token);
  t.is(res.status, 200);
  t.is(json<Pkg[]>(res).length, 7);
  const version = await get(svc, endpointPath('managerVersion', SAMPLES.pip), token);
  t.deepEqual([version.status, json(version)], [200, { name: 'pip', version: '22.0.2', major: 22, minor: 0, patch: 2 }]);
});

// ---------------------------------------------------------------- managerVersion

test('managerVersion of the Java-form snapshot answers name, version and integer parts', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('managerVersion', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  t.deepEqual(json(res), { name: 'pip', version: '22.0.2', major: 22, minor: 0, patch: 2 });
});

test('managerVersion of the one-shot snapshot turns string parts into integers, "" into 0', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('managerVersion', SAMPLES.oneshot), await svc.login('demo'));
  t.is(res.status, 200);
  t.deepEqual(json(res), { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 });
});

test('managerVersion of the conda snapshot answers conda 4.12.0', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('managerVersion', SAMPLES.conda), await svc.login('demo'));
  t.deepEqual([res.status, json(res)], [200, { name: 'conda', version: '4.12.0', major: 4, minor: 12, patch: 0 }]);
});

test('managerVersion with an empty or absent name answers 400', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  assertError(t, await get(svc, '/packageManager/managerVersion?name=', token), 400, 'MISSING_PARAMETER');
  assertError(t, await get(svc, '/packageManager/managerVersion', token), 400, 'MISSING_PARAMETER');
  // The session is checked first, as WASDI does.
  assertError(t, await get(svc, '/packageManager/managerVersion?name='), 401, 'UNAUTHENTICATED');
});

test('managerVersion without a snapshot answers 200 with an empty body', async (t) => {
  const svc = await serviceFor(t);
  rmSync(snapshotFile(svc, SAMPLES.pip.name));
  const res = await get(svc, endpointPath('managerVersion', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  t.is(res.headers['content-length'], '0');
  t.is(res.body, '');
});

test('managerVersion of a snapshot without packageManager answers 200 with an empty body', async (t) => {
  const svc = await serviceFor(t);
  writeFileSync(snapshotFile(svc, SAMPLES.pip.name), JSON.stringify({ packageManager: null, uptodate: [{ packageName: 'x' }] }));
  const res = await get(svc, endpointPath('managerVersion', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  t.is(res.headers['content-length'], '0');
  t.is(res.body, '');
});

test('managerVersion of an empty snapshot asks the package manager; when it cannot answer, 200 with an empty body', async (t) => {
  // The conda command does not exist: the live lookup fails and WASDI swallows the error into an empty 200 (§1.3).
  // The live answer of pip in a real venv is checked in manager-version-live.test.ts.
  const svc = await serviceFor(t, { 'conda.command': '/nonexistent/procenv-test/conda' });
  writeFileSync(snapshotFile(svc, SAMPLES.conda.name), '');
  const res = await get(svc, endpointPath('managerVersion', SAMPLES.conda), await svc.login('demo'));
  t.is(res.status, 200);
  t.is(res.headers['content-length'], '0');
  t.is(res.body, '');
});

test('managerVersion of an unknown processor answers 403, without a session 401', async (t) => {
  const svc = await serviceFor(t);
  assertError(t, await get(svc, '/packageManager/managerVersion?name=nope', await svc.login('demo')), 403, 'PROCESSOR_NOT_ACCESSIBLE');
  assertError(t, await get(svc, endpointPath('managerVersion', SAMPLES.pip)), 401, 'UNAUTHENTICATED');
});

// ---------------------------------------------------------------- environmentActions

test('environmentActions answers the lines of envActionsList.txt in file order', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('environmentActions', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  t.deepEqual(json(res), ['addPackage/scipy/', 'addPackage/rasterio/1.3.9/', 'upgradePackage/numpy/1.24.4/', 'removePackage/opencv-python/']);
});

test('environmentActions trims lines and drops empty ones', async (t) => {
  const svc = await serviceFor(t);
  writeFileSync(actionsFile(svc, SAMPLES.pip.name), '\n  addPackage/a/  \r\n\n \t \nremovePackage/b/\r\n\n\n   upgradePackage/c/1.0/');
  const res = await get(svc, endpointPath('environmentActions', SAMPLES.pip), await svc.login('demo'));
  t.is(res.status, 200);
  t.deepEqual(json(res), ['addPackage/a/', 'removePackage/b/', 'upgradePackage/c/1.0/']);
});

test('environmentActions without the file answers 200 [], an empty file too', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  t.false(existsSync(actionsFile(svc, SAMPLES.oneshot.name)));
  const missing = await get(svc, endpointPath('environmentActions', SAMPLES.oneshot), token);
  t.deepEqual([missing.status, json(missing)], [200, []]);
  writeFileSync(actionsFile(svc, SAMPLES.pip.name), '\n\n');
  const empty = await get(svc, endpointPath('environmentActions', SAMPLES.pip), token);
  t.deepEqual([empty.status, json(empty)], [200, []]);
});

test('environmentActions on a compute node answers 400', async (t) => {
  const svc = await serviceFor(t, { nodeCode: 'node-eu-2', mainNodeCode: 'wasdi' });
  assertError(t, await get(svc, endpointPath('environmentActions', SAMPLES.pip), await svc.login('demo')), 400, 'MAIN_NODE_ONLY');
});

test('environmentActions of an unknown processor answers 403, without a session 401', async (t) => {
  const svc = await serviceFor(t);
  assertError(t, await get(svc, '/packageManager/environmentActions?name=nope', await svc.login('demo')), 403, 'PROCESSOR_NOT_ACCESSIBLE');
  assertError(t, await get(svc, endpointPath('environmentActions', SAMPLES.pip)), 401, 'UNAUTHENTICATED');
});

// ---------------------------------------------------------------- environmentupdate

test('environmentupdate records a CREATED ENVIRONMENTUPDATE operation and answers its id', async (t) => {
  const svc = await serviceFor(t);
  const before = Date.now();
  const ok = await get(svc, `/packageManager/environmentupdate?processorId=${SAMPLES.pip.id}&workspace=ws-42&updateCommand=addPackage/numpy/1.2.3/`, await svc.login('demo'));
  t.is(ok.status, 200);
  const { processObjId } = json<{ processObjId: string }>(ok);
  t.regex(processObjId, /^[0-9a-f-]{36}$/);
  const op = await svc.store.findOperation(processObjId);
  t.truthy(op);
  t.like(op!, {
    processObjId, operationType: 'ENVIRONMENTUPDATE', processorId: SAMPLES.pip.id, productName: SAMPLES.pip.name,
    userId: 'demo', status: 'CREATED', workspaceId: 'ws-42', nodeCode: 'wasdi',
  });
  t.deepEqual(op!.commands, ['addPackage/numpy/1.2.3/']);
  t.true(op!.operationTimestamp >= before && op!.operationTimestamp <= Date.now());
});

test('environmentupdate stores the canonical command form', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const cases: [string, string][] = [
    ['addPackage/numpy', 'addPackage/numpy/'],
    ['upgradePackage/numpy==2.0.2/', 'upgradePackage/numpy/2.0.2/'],
    ['removePackage/opencv-python/', 'removePackage/opencv-python/'],
  ];
  for (const [sent, stored] of cases) {
    const res = await get(svc, endpointPath('environmentupdate', SAMPLES.pip, sent), token);
    t.is(res.status, 200, sent);
    t.deepEqual((await svc.store.findOperation(json<{ processObjId: string }>(res).processObjId))?.commands, [stored], sent);
  }
});

test('environmentupdate without a command, or with an empty one, records a refresh (no commands)', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  for (const path of [endpointPath('environmentupdate', SAMPLES.conda), endpointPath('environmentupdate', SAMPLES.conda, '')]) {
    const res = await get(svc, path, token);
    t.is(res.status, 200, path);
    const op = await svc.store.findOperation(json<{ processObjId: string }>(res).processObjId);
    t.like(op!, { processorId: SAMPLES.conda.id, userId: 'demo', status: 'CREATED' });
    t.deepEqual(op!.commands, []);
  }
});

test('environmentupdate without a session answers 401 and records nothing', async (t) => {
  const svc = await serviceFor(t);
  assertError(t, await get(svc, endpointPath('environmentupdate', SAMPLES.pip, 'addPackage/numpy/')), 401, 'UNAUTHENTICATED');
  t.deepEqual(await svc.store.listOperations({}), []);
});

test('environmentupdate of an unknown processor id answers 400, a missing id 400', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('root', { admin: true });
  assertError(t, await get(svc, '/packageManager/environmentupdate?processorId=no-such-id&workspace=-&updateCommand=addPackage/numpy/', token), 400, 'PROCESSOR_NOT_FOUND');
  assertError(t, await get(svc, '/packageManager/environmentupdate?workspace=-&updateCommand=addPackage/numpy/', token), 400, 'MISSING_PARAMETER');
  t.deepEqual(await svc.store.listOperations({}), []);
});

test('environmentupdate by a user without write permission answers 403', async (t) => {
  const svc = await serviceFor(t);
  assertError(t, await get(svc, endpointPath('environmentupdate', SAMPLES.pip, 'addPackage/numpy/'), await svc.login('stranger')), 403, 'PROCESSOR_NOT_WRITABLE');
  t.deepEqual(await svc.store.listOperations({}), []);
});

test('environmentupdate of a processor type without a package manager answers 400', async (t) => {
  const svc = await serviceFor(t);
  await svc.store.saveProcessor({ processorId: 'idl-1', name: 'idl_app', type: 'ubuntu_idl372', userId: 'demo', isPublic: true, source: 'store' });
  const token = await svc.login('demo');
  assertError(t, await get(svc, endpointPath('environmentupdate', { name: 'idl_app', id: 'idl-1' }, 'addPackage/numpy/'), token), 400, 'NO_PACKAGE_MANAGER');
  assertError(t, await get(svc, endpointPath('environmentupdate', { name: 'idl_app', id: 'idl-1' }), token), 400, 'NO_PACKAGE_MANAGER');
  t.deepEqual(await svc.store.listOperations({}), []);
});

test('environmentupdate with an invalid command answers 400 and records nothing', async (t) => {
  const svc = await serviceFor(t);
  const res = await get(svc, endpointPath('environmentupdate', SAMPLES.pip, 'getPackage/numpy/'), await svc.login('demo'));
  assertError(t, res, 400, 'INVALID_UPDATE_COMMAND');
  t.deepEqual(await svc.store.listOperations({}), []);
});

test('environmentupdate on a compute node records the operation for that node', async (t) => {
  const svc = await serviceFor(t, { nodeCode: 'node-eu-2' });
  const res = await get(svc, endpointPath('environmentupdate', SAMPLES.pip, 'addPackage/numpy/'), await svc.login('demo'));
  t.is(res.status, 200);
  t.like(await svc.store.findOperation(json<{ processObjId: string }>(res).processObjId), { nodeCode: 'node-eu-2', status: 'CREATED' });
});

// ---------------------------------------------------------------- reset

test('reset deletes envActionsList.txt and leaves packagesInfo.json alone', async (t) => {
  const svc = await serviceFor(t);
  const snapshot = readFileSync(snapshotFile(svc, SAMPLES.pip.name), 'utf8');
  const token = await svc.login('demo');
  const res = await get(svc, endpointPath('reset', SAMPLES.pip), token);
  t.is(res.status, 200);
  t.is(res.body, '');
  t.false(existsSync(actionsFile(svc, SAMPLES.pip.name)));
  t.is(readFileSync(snapshotFile(svc, SAMPLES.pip.name), 'utf8'), snapshot);
  const after = await get(svc, endpointPath('environmentActions', SAMPLES.pip), token);
  t.deepEqual(json(after), []);
});

test('reset answers 200 when there is no envActionsList.txt', async (t) => {
  const svc = await serviceFor(t);
  t.false(existsSync(actionsFile(svc, SAMPLES.oneshot.name)));
  const res = await get(svc, endpointPath('reset', SAMPLES.oneshot), await svc.login('demo'));
  t.is(res.status, 200);
  t.is(res.body, '');
});

test('reset on a compute node answers 400 and keeps the file', async (t) => {
  const svc = await serviceFor(t, { nodeCode: 'node-eu-2' });
  assertError(t, await get(svc, endpointPath('reset', SAMPLES.pip), await svc.login('demo')), 400, 'MAIN_NODE_ONLY');
  t.true(existsSync(actionsFile(svc, SAMPLES.pip.name)));
});

test('reset of an unknown processor id answers 403, a missing id 400, without a session 401', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('root', { admin: true });
  assertError(t, await get(svc, '/packageManager/reset?processorId=no-such-id&workspace=-', token), 403, 'PROCESSOR_NOT_WRITABLE');
  assertError(t, await get(svc, '/packageManager/reset?workspace=-', token), 400, 'MISSING_PARAMETER');
  assertError(t, await get(svc, endpointPath('reset', SAMPLES.pip)), 401, 'UNAUTHENTICATED');
  t.true(existsSync(actionsFile(svc, SAMPLES.pip.name)));
});
