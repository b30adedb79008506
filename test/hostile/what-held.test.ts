import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { SAMPLES, allOperations, assertError, endpointPath, hashTree, json, rawGet, serviceFor, tokenHeader, writeProcessorFolder, type Answer } from '../http/support.ts';
import type { TestService } from '../helpers/service.ts';

// The cases the hardening probe tried that already held. They stay as tests so that they keep holding: odd
// operation bodies, odd query parameters, other users' operations, nested and script-laden snapshots, and odd
// processor.json values. (Cluster-key cases are in test/cluster/faults.test.ts and test/http/bad-input.test.ts.)

const PIP = SAMPLES.pip;

/** A request with a raw body, sent byte for byte. */
async function post(svc: TestService, path: string, body: string, headers: Record<string, string>): Promise<Answer> {
  const res = await svc.http.post(path.replace(/^\//, ''), { body, headers });
  return { status: res.statusCode, body: res.body, headers: res.headers };
}

const BODIES: { title: string; body: string; contentType?: string; status: number; code: string }[] = [
  { title: 'a JSON array', body: '["addPackage/numpy/"]', status: 400, code: 'INVALID_BODY' },
  { title: 'JSON null', body: 'null', status: 400, code: 'INVALID_BODY' },
  { title: 'a number', body: '42', status: 400, code: 'INVALID_BODY' },
  { title: 'commands as a string', body: '{"commands":"addPackage/numpy/"}', status: 400, code: 'INVALID_BODY' },
  { title: 'commands with a non-string', body: '{"commands":["addPackage/numpy/",{"$ne":1}]}', status: 400, code: 'INVALID_BODY' },
  { title: 'a workspace object', body: '{"commands":[],"workspace":{"$gt":""}}', status: 400, code: 'INVALID_BODY' },
  { title: 'truncated JSON', body: '{"commands":["addPackage/', status: 400, code: 'INVALID_BODY' },
  { title: 'a form body', body: 'commands=addPackage%2Fnumpy%2F', contentType: 'application/x-www-form-urlencoded', status: 400, code: 'INVALID_BODY' },
  { title: 'a command with a shell', body: '{"commands":["addPackage/numpy;id/"]}', status: 400, code: 'INVALID_UPDATE_COMMAND' },
  { title: '51 commands', body: JSON.stringify({ commands: Array.from({ length: 51 }, (_, i) => `removePackage/p${i}/`) }), status: 400, code: 'TOO_MANY_COMMANDS' },
  { title: 'a __proto__ key', body: '{"__proto__":{"commands":["addPackage/numpy/"]}}', status: 400, code: 'INVALID_BODY' },
];

for (const b of BODIES) {
  test(`POST /processors/{name}/operations with ${b.title} answers ${b.status} ${b.code} and queues nothing`, async (t) => {
    const svc = await serviceFor(t);
    const token = await svc.login('demo');
    const before = hashTree(svc.config.processorsDir);
    const res = await post(svc, `/processors/${PIP.name}/operations`, b.body, { 'x-session-token': token, 'content-type': b.contentType ?? 'application/json' });
    assertError(t, res, b.status, b.code);
    t.deepEqual(await allOperations(svc), []);
    t.is(hashTree(svc.config.processorsDir), before);
  });
}

const QUERIES: { path: string; code: string }[] = [
  { path: '/operations?limit=0', code: 'INVALID_PARAMETER' },
  { path: '/operations?limit=501', code: 'INVALID_PARAMETER' },
  { path: '/operations?limit=-1', code: 'INVALID_PARAMETER' },
  { path: '/operations?limit=1e3', code: 'INVALID_PARAMETER' },
  { path: '/operations?limit=10&limit=20', code: 'REPEATED_PARAMETER' },
  { path: '/operations?offset=abc', code: 'INVALID_PARAMETER' },
  { path: '/operations?status=DONE,HACKED', code: 'INVALID_PARAMETER' },
  { path: "/operations?status=DONE'%20OR%201=1--", code: 'INVALID_PARAMETER' },
  { path: '/operations?since=yesterday', code: 'INVALID_PARAMETER' },
  { path: '/operations?until=NaN', code: 'INVALID_PARAMETER' },
  { path: `/operations?user=${'u'.repeat(2000)}`, code: 'PARAMETER_TOO_LONG' },
  { path: `/processors/${PIP.name}/history?limit=abc`, code: 'INVALID_PARAMETER' },
  { path: `/processors/${PIP.name}/history?status=RUNNING,NOPE`, code: 'INVALID_PARAMETER' },
  { path: '/operations/some-id/log?after=-5', code: 'INVALID_PARAMETER' },
  { path: '/operations/some-id/log?limit=10001', code: 'INVALID_PARAMETER' },
  { path: '/operations?processor=..%2F..%2Fetc', code: 'PROCESSOR_NOT_ACCESSIBLE' },
];

for (const q of QUERIES) {
  test(`GET ${q.path.slice(0, 70)} answers 4xx ${q.code}`, async (t) => {
    const svc = await serviceFor(t);
    const res = await rawGet(svc, q.path, tokenHeader(await svc.login('demo')));
    t.true(res.status >= 400 && res.status < 500, `${res.status} ${res.body.slice(0, 200)}`);
    t.is(json<{ error: { code: string } }>(res).error.code, q.code);
  });
}

test("another user's operation on a private processor is neither shown, nor its log, nor cancellable", async (t) => {
  const svc = await serviceFor(t);
  const owner = await svc.login(SAMPLES.oneshot.owner);
  const stranger = await svc.login('mallory');
  const queued = await svc.http.post(`processors/${SAMPLES.oneshot.name}/operations`, { headers: { 'x-session-token': owner }, json: { commands: [] } });
  t.is(queued.statusCode, 202, queued.body);
  const id = (JSON.parse(queued.body) as { processObjId: string }).processObjId;

  assertError(t, await rawGet(svc, `/operations/${id}`, tokenHeader(stranger)), 403, 'PROCESSOR_NOT_ACCESSIBLE');
  assertError(t, await rawGet(svc, `/operations/${id}/log`, tokenHeader(stranger)), 403, 'PROCESSOR_NOT_ACCESSIBLE');
  assertError(t, await rawGet(svc, `/operations/${id}/cancel`, tokenHeader(stranger), 'POST'), 403, 'PROCESSOR_NOT_ACCESSIBLE');
  const listed = await rawGet(svc, '/operations', tokenHeader(stranger));
  t.is(listed.status, 200);
  t.false(json<{ processObjId: string }[]>(listed).some((op) => op.processObjId === id), 'not in the stranger\'s list');
  t.is((await svc.store.findOperation(id))!.status, 'CREATED', 'still queued');
});

test('a deeply nested packagesInfo.json answers 500 SNAPSHOT_UNREADABLE and the service keeps serving', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  writeFileSync(join(svc.config.processorsDir, PIP.name, 'packagesInfo.json'), `{"packageManager":null,"outdated":${deep}}`);
  svc.catalog.invalidate(PIP.name);
  const res = await rawGet(svc, endpointPath('listPackages', PIP), tokenHeader(token));
  assertError(t, res, 500, 'SNAPSHOT_UNREADABLE');
  t.is((await rawGet(svc, endpointPath('listPackages', SAMPLES.conda), tokenHeader(token))).status, 200);
});

test('package names with markup in a snapshot are served as JSON data, never as a page', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const evil = '<script>alert(document.cookie)</script>';
  writeFileSync(join(svc.config.processorsDir, PIP.name, 'packagesInfo.json'), JSON.stringify({
    packageManager: { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 },
    outdated: [], uptodate: [{ packageName: evil, currentVersion: '"><img src=x onerror=alert(1)>', latestVersion: null, type: 'wheel', channel: null }],
  }));
  svc.catalog.invalidate(PIP.name);
  const res = await rawGet(svc, endpointPath('listPackages', PIP), tokenHeader(token));
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  t.is(json<{ packageName: string }[]>(res)[0]!.packageName, evil);
});

const ODD_DESCRIPTORS: Record<string, unknown>[] = [
  { processorId: '', type: 'python_pip_2', userId: 'demo' },
  { processorId: 42, type: 'python_pip_2', userId: 'demo' },
  { processorId: 'x'.repeat(500), type: 'python_pip_2', userId: 'demo' },
  { processorId: 'odd-1', type: '', userId: 'demo' },
  { processorId: 'odd-2', type: 'python_pip_2', userId: '' },
  { processorId: 'odd-3', type: 'python_pip_2', userId: { $ne: null } },
  { processorId: 'odd-4', type: 'python_pip_2', userId: 'demo', isPublic: 'yes' },
  { processorId: 'odd-5', type: 'python_pip_2', userId: 'demo', name: '../sample_pip' },
  { processorId: 'odd-6', type: 'python_pip_2', userId: 'demo', python: ['sh', '-c', 'id'] },
  { processorId: PIP.id, type: 'python_pip_2', userId: 'mallory', name: 'other_name' },
];

test('odd processor.json values are not registered, and the samples stay as they were', async (t) => {
  const svc = await serviceFor(t);
  for (const [i, descriptor] of ODD_DESCRIPTORS.entries()) {
    const folder = join(svc.config.processorsDir, `odd_${i}`);
    writeProcessorFolder(svc.config.processorsDir, `odd_${i}`, { processorId: 'placeholder', type: 'x', userId: 'x' });
    writeFileSync(join(folder, 'processor.json'), JSON.stringify(descriptor));
  }
  await svc.catalog.scan();
  const names = (await svc.store.listProcessors()).map((p) => p.name).sort();
  t.deepEqual(names, [SAMPLES.conda.name, PIP.name, SAMPLES.oneshot.name].sort());
  t.is((await svc.store.findProcessorById(PIP.id))!.userId, PIP.owner);
});
