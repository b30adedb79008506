import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { buildApp } from '../../src/app.ts';
import { EVENT_TYPES } from '../../src/domain/events.ts';
import { openApiDocument } from '../../src/http/openapi.ts';
import { EVENT_SCHEMA_NAMES } from '../../src/http/openapi/schemas.ts';
import type { Method, Operation } from '../../src/http/openapi/spec-types.ts';
import { listRoutes } from '../../src/http/route-list.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { waitUntil } from '../helpers/cluster.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { openEvents } from '../helpers/sse.ts';
import { OpenApiValidator, type Answer } from '../helpers/openapi-validator.ts';
import { SAMPLES } from './support.ts';

// The OpenAPI document (src/http/openapi.ts) against the app: the routes it registers, and the answers it gives.

const doc = openApiDocument;
const validator = new OpenApiValidator(doc);
const METHODS: Method[] = ['get', 'post', 'put', 'delete'];
const CLUSTER_KEY = 'openapi-test-cluster-key-0123456789';

/** `/operations/:id` → `/operations/{id}`. */
const documentPath = (routerPath: string) => routerPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function operations(): { method: Method; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => METHODS.flatMap((method) => (item[method] ? [{ method, path, op: item[method]! }] : [])));
}

/** Every `$ref` in the document, with where it is. */
function refsOf(value: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refsOf(v, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [{ ref: v, at }] : refsOf(v, `${at}/${k}`)));
}

function resolvePointer(pointer: string): unknown {
  let node: unknown = doc;
  for (const raw of pointer.replace(/^#\//, '').split('/')) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

/** A concrete URL path for a documented path: each `{param}` by its first example, or a placeholder. */
function concretePath(path: string, op: Operation): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const examples = op.parameters?.find((p) => p.in === 'path' && p.name === name)?.schema.examples as string[] | undefined;
    return encodeURIComponent(examples?.[0] ?? 'x');
  });
}

/** The same app the service runs, built from its parts (the service does not hand out its Koa app). */
function appOf(svc: TestService) {
  return buildApp({
    log: svc.log, sessions: svc.sessions, environments: svc.environments, operations: svc.operations, events: svc.events, generations: svc.generations,
    plans: svc.plans, inventory: svc.inventory, holds: svc.holds, fleet: { batches: svc.batches, updates: svc.updates }, schedules: svc.schedules, audit: svc.audit, operator: { readiness: { checks: {} }, metrics: new Metrics({ store: svc.store, nodeCode: svc.config.nodeCode, openStreams: () => 0 }) },
    store: svc.store, catalog: svc.catalog, nodeCode: svc.config.nodeCode, ...(svc.fanout ? { fanout: svc.fanout } : {}),
  });
}

async function service(t: ExecutionContext, options: { worker?: boolean; beforeStart?: (dir: string) => void } = {}): Promise<TestService> {
  const svc = await startTestService({ clusterKey: CLUSTER_KEY }, { worker: options.worker ?? false, ...(options.beforeStart ? { beforeStart: options.beforeStart } : {}) });
  t.teardown(() => svc.close());
  return svc;
}

// ---------------------------------------------------------------- the document itself

test('the document is OpenAPI 3.1: info, paths, an operationId and responses on every operation, unique ids, every $ref resolves', (t) => {
  t.regex(doc.openapi, /^3\.1\.\d+$/);
  t.truthy(doc.info.title);
  t.regex(doc.info.version, /^\d+\.\d+\.\d+/);
  t.true(Object.keys(doc.paths).length > 0);
  const ids = new Set<string>();
  for (const { method, path, op } of operations()) {
    t.regex(op.operationId ?? '', /^[A-Za-z][A-Za-z0-9]*$/, `${method} ${path} has an operationId`);
    t.false(ids.has(op.operationId), `operationId ${op.operationId} is unique`);
    ids.add(op.operationId);
    t.true(Object.keys(op.responses ?? {}).length > 0, `${method} ${path} has responses`);
    for (const status of Object.keys(op.responses)) t.regex(status, /^[1-5]\d\d$/, `${method} ${path}: status ${status}`);
    t.true(Array.isArray(op.security), `${method} ${path} states its security`);
    for (const requirement of op.security) for (const scheme of Object.keys(requirement)) t.truthy(doc.components.securitySchemes[scheme], `${method} ${path}: scheme ${scheme}`);
    // Path templates and path parameters name each other, and path parameters are required.
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
    t.deepEqual(declared, templated, `${method} ${path}: path parameters`);
    for (const p of op.parameters ?? []) if (p.in === 'path') t.true(p.required, `${method} ${path}: ${p.name} is required`);
  }
  const refs = refsOf(doc);
  t.true(refs.length > 50);
  for (const { ref, at } of refs) {
    t.true(ref.startsWith('#/'), `${at}: ${ref} is local`);
    t.not(resolvePointer(ref), undefined, `${at}: ${ref} resolves`);
  }
  t.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['clusterKey', 'metricsBearer', 'sessionToken']);
  t.like(doc.components.securitySchemes.sessionToken, { type: 'apiKey', in: 'header', name: 'x-session-token' });
  t.like(doc.components.securitySchemes.clusterKey, { type: 'apiKey', in: 'header', name: 'x-procenv-cluster-key' });
  t.like(doc.components.securitySchemes.metricsBearer, { type: 'http', scheme: 'bearer' });
});

test('the event schemas cover every event type the journal has, each under its own type', (t) => {
  t.deepEqual(Object.keys(EVENT_SCHEMA_NAMES).sort(), [...EVENT_TYPES].sort());
  const variants = (doc.components.schemas.ProcenvEvent!.oneOf as { $ref: string }[]).map((r) => r.$ref.split('/').at(-1));
  t.deepEqual(variants.sort(), Object.values(EVENT_SCHEMA_NAMES).sort());
  for (const [type, name] of Object.entries(EVENT_SCHEMA_NAMES)) {
    const schema = doc.components.schemas[name] as { properties: { type: { const: string } } };
    t.is(schema.properties.type.const, type);
  }
});

// ---------------------------------------------------------------- routes

// The document and the app held to each other in both directions: a route added, removed or renamed on either side
// fails here. The panel's files (/, /ui, /ui/…) are served by a middleware, not the router: they are asked of the service.
test('every route the app registers is in the document with its method, and every documented operation is served', async (t) => {
  const svc = await service(t, { worker: true });
  const registered = listRoutes(appOf(svc)).map((r) => `${r.method} ${documentPath(r.path)}`).sort();
  t.deepEqual(new Set(registered).size, registered.length, 'no route is registered twice');
  const documented = operations().filter(({ op }) => !op['x-procenv-served-by']).map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort();
  t.deepEqual(documented, registered, 'the document\'s router operations are exactly the routes the app registers');

  // And the running service answers each documented operation (without credentials) with an answer the document lists.
  for (const { method, path, op } of operations()) {
    const res = await svc.http(concretePath(path, op).slice(1), { method: method.toUpperCase() as 'GET' | 'POST', followRedirect: false });
    const code = res.statusCode >= 400 && /^application\/json/.test(String(res.headers['content-type'])) ? (JSON.parse(res.body) as { error?: { code?: string } }).error?.code : undefined;
    t.false(code === 'ROUTE_NOT_FOUND' || code === 'METHOD_NOT_ALLOWED', `${method} ${path} is served: ${res.statusCode} ${res.body.slice(0, 200)}`);
    validator.conforms(t, method, path, res);
  }
});

test('GET /openapi.json serves the document without a token, with an ETag that answers 304', async (t) => {
  const svc = await service(t);
  const res = await svc.http.get('openapi.json');
  validator.conforms(t, 'get', '/openapi.json', res);
  t.deepEqual(JSON.parse(res.body), JSON.parse(JSON.stringify(doc)));
  const again = await svc.http.get('openapi.json', { headers: { 'if-none-match': String(res.headers.etag) } });
  t.is(again.statusCode, 304);
  validator.conforms(t, 'get', '/openapi.json', again);
});

// ---------------------------------------------------------------- answers

test('WASDI\'s five endpoints answer as the document says, errors included', async (t) => {
  const svc = await service(t, {
    beforeStart: (dir) => {
      // A processor whose packagesInfo.json is a link: refused, so that listPackages answers its documented 500.
      mkdirSync(join(dir, 'linked'));
      writeFileSync(join(dir, 'linked', 'processor.json'), JSON.stringify({ processorId: 'linked-id', type: 'python_pip_2', userId: 'demo' }));
      symlinkSync('/etc/hostname', join(dir, 'linked', 'packagesInfo.json'));
    },
  });
  const owner = { 'x-session-token': await svc.login('demo') };
  const reader = { 'x-session-token': await svc.login('reader') };
  const pip = SAMPLES.pip;
  const get = (path: string, headers: Record<string, string> = owner) => svc.http.get(path, { headers });

  const list = await get(`packageManager/listPackages?name=${pip.name}`);
  t.is(list.statusCode, 200);
  validator.conforms(t, 'get', '/packageManager/listPackages', list);
  validator.conforms(t, 'get', '/packageManager/listPackages', await get(`packageManager/listPackages?name=${pip.name}`, { ...owner, 'if-none-match': String(list.headers.etag) }));
  validator.conforms(t, 'get', '/packageManager/listPackages', await get(`packageManager/listPackages?name=${SAMPLES.conda.name}`));
  const refused = await get('packageManager/listPackages?name=linked');
  t.is(refused.statusCode, 500);
  validator.conforms(t, 'get', '/packageManager/listPackages', refused);
  const anonymous = await svc.http.get(`packageManager/listPackages?name=${pip.name}`);
  t.is(anonymous.statusCode, 401);
  validator.conforms(t, 'get', '/packageManager/listPackages', anonymous);
  const missing = await get('packageManager/listPackages');
  t.is(missing.statusCode, 400);
  validator.conforms(t, 'get', '/packageManager/listPackages', missing);
  const stranger = await get(`packageManager/listPackages?name=${SAMPLES.oneshot.name}`, reader);
  t.is(stranger.statusCode, 403);
  validator.conforms(t, 'get', '/packageManager/listPackages', stranger);

  const version = await get(`packageManager/managerVersion?name=${pip.name}`);
  t.is(version.statusCode, 200);
  validator.conforms(t, 'get', '/packageManager/managerVersion', version);

  const history = await get(`packageManager/environmentActions?name=${pip.name}`);
  t.is(history.statusCode, 200);
  validator.conforms(t, 'get', '/packageManager/environmentActions', history);

  const update = await get(`packageManager/environmentupdate?processorId=${pip.id}&workspace=-&updateCommand=removePackage/scipy/`);
  t.is(update.statusCode, 200);
  validator.conforms(t, 'get', '/packageManager/environmentupdate', update);
  const readOnly = await get(`packageManager/environmentupdate?processorId=${pip.id}&updateCommand=removePackage/scipy/`, reader);
  t.is(readOnly.statusCode, 403);
  validator.conforms(t, 'get', '/packageManager/environmentupdate', readOnly);
  const invalid = await get(`packageManager/environmentupdate?processorId=${pip.id}&updateCommand=${encodeURIComponent('installPackage/x/')}`);
  t.is(invalid.statusCode, 400);
  validator.conforms(t, 'get', '/packageManager/environmentupdate', invalid);
  const unknown = await get('packageManager/environmentupdate?processorId=nope');
  t.is(unknown.statusCode, 400);
  validator.conforms(t, 'get', '/packageManager/environmentupdate', unknown);
  // A HEAD answer has no body to validate: its status and Allow are what the document lists.
  const head = await svc.http.head(`packageManager/environmentupdate?processorId=${pip.id}`, { headers: owner });
  t.is(head.statusCode, 405);
  t.truthy(doc.paths['/packageManager/environmentupdate']!.get!.responses['405']?.headers?.Allow);
  t.is(head.headers.allow, 'GET');

  const reset = await get(`packageManager/reset?processorId=${pip.id}&workspace=-`);
  t.is(reset.statusCode, 200);
  validator.conforms(t, 'get', '/packageManager/reset', reset);
  validator.conforms(t, 'get', '/packageManager/reset', await get(`packageManager/reset?processorId=${pip.id}`, reader));
});

test('the operation API answers as the document says: submit, list, get with deliveries, log, cancel, history', async (t) => {
  const svc = await service(t);
  // An unreachable compute node, so that the main node's operations carry deliveries (pending, retried).
  await svc.store.saveNode({ nodeCode: 'node-a', nodeBaseAddress: 'http://127.0.0.1:9/', active: true });
  const owner = { 'x-session-token': await svc.login('demo') };
  const reader = { 'x-session-token': await svc.login('reader') };
  const pip = SAMPLES.pip.name;

  const submit = (body: unknown, headers: Record<string, string> = owner) => svc.http.post(`processors/${pip}/operations`, { json: body, headers });
  const created = await submit({ commands: ['removePackage/scipy/', 'upgradePackage/numpy/1.26.4/'] }, { ...owner, 'idempotency-key': 'k-1' });
  t.is(created.statusCode, 202);
  validator.conforms(t, 'post', '/processors/{name}/operations', created);
  const replayed = await submit({ commands: ['removePackage/scipy/'] }, { ...owner, 'idempotency-key': 'k-1' });
  t.is(replayed.headers['idempotent-replayed'], 'true');
  validator.conforms(t, 'post', '/processors/{name}/operations', replayed);
  validator.conforms(t, 'post', '/processors/{name}/operations', await submit({ commands: 'removePackage/scipy/' }));
  validator.conforms(t, 'post', '/processors/{name}/operations', await submit({ commands: [] }, reader));
  const big = await svc.http.post(`processors/${pip}/operations`, { body: JSON.stringify({ commands: [], pad: 'x'.repeat(70_000) }), headers: { ...owner, 'content-type': 'application/json' } });
  t.is(big.statusCode, 413);
  validator.conforms(t, 'post', '/processors/{name}/operations', big);
  const id = (JSON.parse(created.body) as { processObjId: string }).processObjId;

  // The deliveries are stored with the operation; wait until the node was tried once (attempts, lastError).
  let one: Answer | undefined;
  for (let i = 0; i < 200 && !one?.body.includes('"lastError"'); i++) {
    one = await svc.http.get(`operations/${id}`, { headers: owner });
    await new Promise((r) => setTimeout(r, 25));
  }
  t.regex(one!.body, /"nodes":\[\{"nodeCode":"node-a"/);
  validator.conforms(t, 'get', '/operations/{id}', one!);
  validator.conforms(t, 'get', '/operations/{id}', await svc.http.get('operations/nope', { headers: owner }));

  validator.conforms(t, 'get', '/operations', await svc.http.get('operations', { headers: owner }));
  validator.conforms(t, 'get', '/operations', await svc.http.get(`operations?processor=${pip}&status=CREATED,RUNNING&since=2020-01-01T00:00:00Z&limit=10`, { headers: owner }));
  validator.conforms(t, 'get', '/operations', await svc.http.get('operations?limit=0', { headers: owner }));
  validator.conforms(t, 'get', '/operations', await svc.http.get(`operations?processor=${SAMPLES.oneshot.name}`, { headers: reader }));

  // Log lines stored the way a worker stores them (the worker is stopped: nothing runs here).
  await svc.lifecycle.appendLog(JSON.parse(created.body), [
    { t: Date.now(), stream: 'procenv', line: 'command 1/2: removePackage/scipy/' },
    { t: Date.now(), stream: 'stdout', line: 'Found existing installation: scipy 1.10.1' },
  ]);
  const log = await svc.http.get(`operations/${id}/log?after=0&limit=100`, { headers: owner });
  t.is(JSON.parse(log.body).length, 2);
  validator.conforms(t, 'get', '/operations/{id}/log', log);
  validator.conforms(t, 'get', '/operations/{id}/log', await svc.http.get(`operations/${id}/log?after=-1`, { headers: owner }));

  validator.conforms(t, 'post', '/operations/{id}/cancel', await svc.http.post(`operations/${id}/cancel`, { headers: reader }));
  const cancelled = await svc.http.post(`operations/${id}/cancel`, { headers: owner });
  t.is(cancelled.statusCode, 200);
  validator.conforms(t, 'post', '/operations/{id}/cancel', cancelled);
  const again = await svc.http.post(`operations/${id}/cancel`, { headers: owner });
  t.is(again.statusCode, 409);
  validator.conforms(t, 'post', '/operations/{id}/cancel', again);

  const history = await svc.http.get(`processors/${pip}/history?status=STOPPED`, { headers: owner });
  t.is(JSON.parse(history.body).length, 1);
  validator.conforms(t, 'get', '/processors/{name}/history', history);
});

test('the generation routes answer as the document says: list, manifest, diff, each export, and their errors', async (t) => {
  const svc = await service(t);
  const owner = { 'x-session-token': await svc.login('demo') };
  const reader = { 'x-session-token': await svc.login('reader') };
  const get = (path: string, headers: Record<string, string> = owner) => svc.http.get(path, { headers });
  const [pip, conda] = [SAMPLES.pip.name, SAMPLES.conda.name];
  const list = await get(`processors/${pip}/generations`);
  t.is(JSON.parse(list.body).length, 1, 'the sample as procenv first saw it');
  validator.conforms(t, 'get', '/processors/{name}/generations', list);
  validator.conforms(t, 'get', '/processors/{name}/generations', await get(`processors/${pip}/generations?limit=0`));
  validator.conforms(t, 'get', '/processors/{name}/generations', await get(`processors/${SAMPLES.oneshot.name}/generations`, reader));
  validator.conforms(t, 'get', '/processors/{name}/generations', await get('processors/-bad/generations'));
  for (const name of [pip, conda]) validator.conforms(t, 'get', '/processors/{name}/generations/{number}', await get(`processors/${name}/generations/1`));
  validator.conforms(t, 'get', '/processors/{name}/generations/{number}', await get(`processors/${pip}/generations/2`));
  validator.conforms(t, 'get', '/processors/{name}/generations/{number}', await get(`processors/${pip}/generations/0`));
  const diff = await get(`processors/${conda}/generations/diff?from=1&to=1`);
  t.is(diff.statusCode, 200);
  validator.conforms(t, 'get', '/processors/{name}/generations/diff', diff);
  validator.conforms(t, 'get', '/processors/{name}/generations/diff', await get(`processors/${pip}/generations/diff?from=1`));
  validator.conforms(t, 'get', '/processors/{name}/generations/diff', await get(`processors/${pip}/generations/diff?from=1&to=9`));
  for (const [name, format, status] of [[pip, 'requirements', 200], [conda, 'environment', 200], [pip, 'json', 200], [pip, 'environment', 400], [pip, 'yaml', 400]] as const) {
    const file = await get(`processors/${name}/generations/1/export?format=${format}`);
    t.is(file.statusCode, status, `${name} ${format}`);
    validator.conforms(t, 'get', '/processors/{name}/generations/{number}/export', file);
  }
  validator.conforms(t, 'get', '/processors/{name}/generations/{number}/export', await get(`processors/${pip}/generations/3/export`));
  // The sync answer carries the node's newest generation.
  const key = { 'x-procenv-cluster-key': CLUSTER_KEY };
  const sync = await svc.http.get(`cluster/processors/${pip}/sync`, { headers: key });
  t.regex(sync.body, /"generation":\{"number":1,"hash":"[0-9a-f]{64}"\}/);
  validator.conforms(t, 'get', '/cluster/processors/{name}/sync', sync);
});

test('the batch and update routes answer as the document says, errors included', async (t) => {
  const svc = await service(t);
  const owner = { 'x-session-token': await svc.login('demo') };
  const get = (path: string) => svc.http.get(path, { headers: owner });
  const post = (path: string, json: unknown) => svc.http.post(path, { headers: owner, json });
  const batch = await post('batches', { processors: [SAMPLES.pip.name, SAMPLES.conda.name, 'no_such'], action: 'upgrade-all' });
  t.is(batch.statusCode, 202);
  validator.conforms(t, 'post', '/batches', batch);
  const id = JSON.parse(batch.body).batchId as string;
  validator.conforms(t, 'post', '/batches', await post('batches', { processors: [], action: 'upgrade-all' }));
  validator.conforms(t, 'post', '/batches', await post('batches', { processors: 'all', action: 'security' }));
  validator.conforms(t, 'get', '/batches/{id}', await get(`batches/${id}`));
  validator.conforms(t, 'get', '/batches/{id}', await get('batches/nope'));
  validator.conforms(t, 'get', '/batches', await get('batches'));
  validator.conforms(t, 'post', '/batches/{id}/cancel', await post(`batches/${id}/cancel`, {}));
  validator.conforms(t, 'get', '/updates', await get('updates?all=true'));
  validator.conforms(t, 'get', '/updates/{processor}', await get(`updates/${SAMPLES.pip.name}`));
  validator.conforms(t, 'get', '/updates/{processor}', await get('updates/no_such'));
  validator.conforms(t, 'post', '/updates/check', await post('updates/check', { processors: [SAMPLES.pip.name, 'no_such'] }));
  validator.conforms(t, 'post', '/updates/check', await post('updates/check', { processors: [] }));
});

test('the inventory routes answer as the document says: summary, search, count, and their errors', async (t) => {
  const svc = await service(t);
  const owner = { 'x-session-token': await svc.login('demo') };
  const get = (path: string) => svc.http.get(path, { headers: owner });
  validator.conforms(t, 'get', '/packages/summary', await get('packages/summary'));
  const search = await get('packages/search?q=numpy');
  t.is(JSON.parse(search.body).length, 2);
  validator.conforms(t, 'get', '/packages/search', search);
  validator.conforms(t, 'get', '/packages/search', await get('packages/search?manager=npm'));
  validator.conforms(t, 'get', '/packages/search/count', await get('packages/search/count?q=numpy'));
  validator.conforms(t, 'get', '/packages/search/count', await get('packages/search/count?upgradable=x'));
  const put = (pkg: string, json: unknown) => svc.http.put(`processors/${SAMPLES.pip.name}/holds/${pkg}`, { headers: owner, json });
  const placed = await put('numpy', { reason: 'the GDAL build' });
  t.is(placed.statusCode, 201);
  validator.conforms(t, 'put', '/processors/{name}/holds/{package}', placed);
  validator.conforms(t, 'put', '/processors/{name}/holds/{package}', await put('numpy', { reason: 'again' }));
  validator.conforms(t, 'put', '/processors/{name}/holds/{package}', await put('numpy', {}));
  validator.conforms(t, 'get', '/processors/{name}/holds', await get(`processors/${SAMPLES.pip.name}/holds`));
  validator.conforms(t, 'get', '/cluster/processors/{name}/history', await svc.http.get(`cluster/processors/${SAMPLES.pip.name}/history`, { headers: { 'x-procenv-cluster-key': CLUSTER_KEY } }));
  const held = await svc.http.get('packageManager/environmentupdate', { headers: owner, searchParams: { processorId: SAMPLES.pip.id, workspace: '-', updateCommand: 'upgradePackage/numpy/' } });
  t.is(held.statusCode, 409);
  validator.conforms(t, 'get', '/packageManager/environmentupdate', held);
  validator.conforms(t, 'delete', '/processors/{name}/holds/{package}', await svc.http.delete(`processors/${SAMPLES.pip.name}/holds/numpy`, { headers: owner }));
  validator.conforms(t, 'delete', '/processors/{name}/holds/{package}', await svc.http.delete(`processors/${SAMPLES.pip.name}/holds/numpy`, { headers: owner }));
});

test('the audit routes answer as the document says: with and without a database, ignore rules and their errors', async (t) => {
  const advisories = mkdtempSync(join(tmpdir(), 'procenv-openapi-osv-'));
  t.teardown(() => rmSync(advisories, { recursive: true, force: true }));
  writeFileSync(join(advisories, 'TEST-1.json'), JSON.stringify({
    id: 'TEST-1', aliases: ['CVE-2099-1'], summary: 'numpy before 1.25', database_specific: { severity: 'HIGH' },
    affected: [{ package: { ecosystem: 'PyPI', name: 'numpy' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.25.0' }] }] }],
  }));
  writeFileSync(join(advisories, 'bad.json'), '{');
  const svc = await startTestService({ clusterKey: CLUSTER_KEY, advisories }, { worker: false });
  t.teardown(() => svc.close());
  await svc.advisories!.ready();
  const owner = { 'x-session-token': await svc.login('demo') };
  const stranger = { 'x-session-token': await svc.login('stranger') };
  const get = (path: string, headers = owner) => svc.http.get(path, { headers });
  const pip = SAMPLES.pip.name;
  const audit = await get(`processors/${pip}/audit`);
  t.is(JSON.parse(audit.body).findings.length, 1);
  validator.conforms(t, 'get', '/processors/{name}/audit', audit);
  validator.conforms(t, 'get', '/processors/{name}/audit', await get('processors/sample_oneshot/audit', stranger));
  validator.conforms(t, 'get', '/processors/{name}/audit', await get('processors/sample_pip/audit?severity=x'));
  validator.conforms(t, 'get', '/audit', await get('audit'));
  validator.conforms(t, 'get', '/audit', await get('audit?ignored=maybe'));
  const post = (json: unknown, headers = owner) => svc.http.post('audit/ignores', { headers, json });
  const made = await post({ advisory: 'CVE-2099-1', processor: pip, reason: 'reviewed', expiresAt: new Date(Date.now() + 60_000).toISOString() });
  t.is(made.statusCode, 201);
  validator.conforms(t, 'post', '/audit/ignores', made);
  validator.conforms(t, 'post', '/audit/ignores', await post({ advisory: 'CVE-2099-1', reason: 'everywhere', expiresAt: '2099-01-01' }));
  validator.conforms(t, 'post', '/audit/ignores', await post({ advisory: 'CVE-2099-1', reason: 'x', expiresAt: '2099-01-01' }, stranger));
  validator.conforms(t, 'post', '/audit/ignores', await post({ advisory: 'CVE-2099-1', processor: pip, reason: 'x', expiresAt: new Date(Date.now() + 60_000).toISOString() }, stranger));
  validator.conforms(t, 'get', '/processors/{name}/audit', await get(`processors/${pip}/audit?ignored=true`));
  validator.conforms(t, 'get', '/audit/ignores', await get('audit/ignores'));
  const id = (JSON.parse(made.body) as { id: string }).id;
  validator.conforms(t, 'delete', '/audit/ignores/{id}', await svc.http.delete(`audit/ignores/${id}`, { headers: stranger }));
  validator.conforms(t, 'delete', '/audit/ignores/{id}', await svc.http.delete(`audit/ignores/${id}`, { headers: owner }));
  validator.conforms(t, 'delete', '/audit/ignores/{id}', await svc.http.delete(`audit/ignores/${id}`, { headers: owner }));

  const none = await service(t);
  const plain = { 'x-session-token': await none.login('demo') };
  const empty = await none.http.get('audit', { headers: plain });
  t.deepEqual(JSON.parse(empty.body).database, { configured: false });
  validator.conforms(t, 'get', '/audit', empty);
  validator.conforms(t, 'get', '/processors/{name}/audit', await none.http.get(`processors/${pip}/audit`, { headers: plain }));
});

test('the plan and restore routes answer as the document says, errors included', async (t) => {
  const svc = await service(t);
  const owner = { 'x-session-token': await svc.login('demo') };
  const stranger = { 'x-session-token': await svc.login('stranger') };
  const post = (path: string, json?: unknown, headers: Record<string, string> = owner) => svc.http.post(path, { headers, ...(json === undefined ? {} : { json }) });
  const pip = SAMPLES.pip.name;
  await waitUntil('the first generation', async () => (await svc.http.get(`processors/${pip}/generations/1`, { headers: owner })).statusCode === 200);
  // A restore of the generation the environment is: a plan with nothing to do, and nothing to restore.
  const plan = await post(`processors/${pip}/generations/1/restore?plan=true`);
  t.is(plan.statusCode, 200, plan.body);
  t.like(JSON.parse(plan.body), { generation: 1, restoreOf: 1, exact: true, commands: [] });
  validator.conforms(t, 'post', '/processors/{name}/generations/{number}/restore', plan);
  const checks: [string, string, number, unknown?, Record<string, string>?][] = [
    ['/processors/{name}/generations/{number}/restore', `processors/${pip}/generations/1/restore`, 409],
    ['/processors/{name}/generations/{number}/restore', `processors/${pip}/generations/7/restore`, 404],
    ['/processors/{name}/generations/{number}/restore', `processors/${pip}/generations/1/restore?plan=yes`, 400],
    ['/processors/{name}/generations/{number}/restore', `processors/${pip}/generations/1/restore`, 403, undefined, stranger],
    ['/processors/{name}/plans', `processors/${pip}/plans`, 400, { commands: [] }],
    ['/processors/{name}/plans', `processors/${pip}/plans`, 403, { commands: ['addPackage/x/'] }, stranger],
    ['/plans/{id}/execute', `plans/${JSON.parse(plan.body).planId}/execute`, 403, undefined, stranger],
    ['/plans/{id}/execute', 'plans/nope/execute', 404],
  ];
  for (const [doc, path, status, body, headers] of checks) {
    const res = await post(path, body, headers);
    t.is(res.statusCode, status, `${path}: ${res.body}`);
    validator.conforms(t, 'post', doc, res);
  }
  const got = await svc.http.get(`plans/${JSON.parse(plan.body).planId}`, { headers: owner });
  t.is(got.statusCode, 200);
  validator.conforms(t, 'get', '/plans/{id}', got);
  validator.conforms(t, 'get', '/plans/{id}', await svc.http.get('plans/nope', { headers: owner }));
});

test('cluster, catalog, operator and ticket answers are as the document says', async (t) => {
  const svc = await service(t, { beforeStart: (dir) => symlinkSync('/etc', join(dir, 'linked-folder')) });
  await svc.store.saveNode({ nodeCode: 'node-a', nodeBaseAddress: 'http://127.0.0.1:9/', active: true });
  const owner = { 'x-session-token': await svc.login('demo') };
  const reader = { 'x-session-token': await svc.login('reader') };
  const admin = { 'x-session-token': await svc.login('root', { admin: true }) };
  const key = { 'x-procenv-cluster-key': CLUSTER_KEY };
  const pip = SAMPLES.pip;

  const nodes = await svc.http.get('nodes', { headers: admin });
  t.regex(nodes.body, /"reachable":false/);
  validator.conforms(t, 'get', '/nodes', nodes);
  validator.conforms(t, 'get', '/nodes', await svc.http.get('nodes', { headers: reader }));
  const positions = await svc.http.get(`processors/${pip.name}/nodes`, { headers: owner });
  t.regex(positions.body, /"state":"unreachable"/);
  validator.conforms(t, 'get', '/processors/{name}/nodes', positions);

  validator.conforms(t, 'get', '/cluster/ping', await svc.http.get('cluster/ping', { headers: key }));
  validator.conforms(t, 'get', '/cluster/ping', await svc.http.get('cluster/ping', { headers: owner }));
  validator.conforms(t, 'get', '/cluster/ping', await svc.http.get('cluster/ping', { headers: { 'x-procenv-cluster-key': 'wrong' } }));
  validator.conforms(t, 'get', '/cluster/processors/{name}/history', await svc.http.get(`cluster/processors/${pip.name}/history?from=0`, { headers: key }));
  validator.conforms(t, 'get', '/cluster/processors/{name}/sync', await svc.http.get(`cluster/processors/${pip.name}/sync`, { headers: key }));
  validator.conforms(t, 'get', '/cluster/processors/{name}/sync', await svc.http.get('cluster/processors/nope/sync', { headers: key }));

  const update = await svc.http.get(`packageManager/environmentupdate?processorId=${pip.id}&updateCommand=removePackage/scipy/`, { headers: owner });
  const { processObjId } = JSON.parse(update.body) as { processObjId: string };
  // The fan-out stores the delivery right after the answer; the report is about that stored delivery.
  for (let i = 0; i < 200 && (await svc.store.listDeliveries({ operationId: processObjId })).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  const report = await svc.http.post(`cluster/deliveries/${processObjId}/node-a`, { json: { status: 'DONE', remoteOperationId: 'remote-1' }, headers: key });
  t.deepEqual(JSON.parse(report.body), { recorded: true });
  validator.conforms(t, 'post', '/cluster/deliveries/{operationId}/{nodeCode}', report);
  validator.conforms(t, 'post', '/cluster/deliveries/{operationId}/{nodeCode}', await svc.http.post(`cluster/deliveries/${processObjId}/node-a`, { json: {}, headers: key }));
  // A status that is not an end is refused, not taken for a failure.
  const running = await svc.http.post(`cluster/deliveries/${processObjId}/node-a`, { json: { status: 'RUNNING' }, headers: key });
  t.is(running.statusCode, 400);
  validator.conforms(t, 'post', '/cluster/deliveries/{operationId}/{nodeCode}', running);
  validator.conforms(t, 'post', '/cluster/deliveries/{operationId}/{nodeCode}', await svc.http.post(`cluster/deliveries/${processObjId}/${encodeURIComponent('bad code')}`, { json: { status: 'DONE' }, headers: key }));

  const problems = await svc.http.get('catalog/problems', { headers: admin });
  t.regex(problems.body, /"folder":"linked-folder"/);
  validator.conforms(t, 'get', '/catalog/problems', problems);
  validator.conforms(t, 'get', '/catalog/problems', await svc.http.get('catalog/problems', { headers: owner }));

  validator.conforms(t, 'get', '/health', await svc.http.get('health'));
  const ready = await svc.http.get('ready');
  t.is(ready.statusCode, 503, 'the worker is stopped');
  validator.conforms(t, 'get', '/ready', ready);
  validator.conforms(t, 'get', '/metrics', await svc.http.get('metrics'));

  const ticket = await svc.http.post('events/tickets', { headers: owner });
  t.is(ticket.statusCode, 201);
  validator.conforms(t, 'post', '/events/tickets', ticket);
  validator.conforms(t, 'post', '/events/tickets', await svc.http.post('events/tickets'));
  validator.conforms(t, 'get', '/events', await svc.http.get('events?token=abc', { headers: owner }));
  validator.conforms(t, 'get', '/events', await svc.http.get('events?operation=nope', { headers: owner }));
});

test('GET /metrics with metricsToken set answers 401 without the bearer token, as documented', async (t) => {
  const svc = await startTestService({ metricsToken: 'metrics-token-0123456789' }, { worker: false });
  t.teardown(() => svc.close());
  validator.conforms(t, 'get', '/metrics', await svc.http.get('metrics'));
  validator.conforms(t, 'get', '/metrics', await svc.http.get('metrics', { headers: { authorization: 'Bearer metrics-token-0123456789' } }));
});

test('the messages of GET /events are the document\'s StreamMessage: queued, delivery, ended', async (t) => {
  const svc = await service(t);
  await svc.store.saveNode({ nodeCode: 'node-a', nodeBaseAddress: 'http://127.0.0.1:9/', active: true });
  const owner = { 'x-session-token': await svc.login('demo') };
  const { ticket } = JSON.parse((await svc.http.post('events/tickets', { headers: owner })).body) as { ticket: string };
  const stream = await openEvents(svc.url, { query: `ticket=${ticket}&processor=${SAMPLES.pip.name}` });
  t.teardown(() => stream.close());
  validator.conforms(t, 'get', '/events', { statusCode: stream.status, headers: stream.headers, body: '' });

  const created = await svc.http.post(`processors/${SAMPLES.pip.name}/operations`, { json: { commands: ['removePackage/scipy/'] }, headers: owner });
  const { processObjId } = JSON.parse(created.body) as { processObjId: string };
  await svc.http.post(`operations/${processObjId}/cancel`, { headers: owner });
  const events = await stream.until((list) => list.some((e) => e.type === 'operation.ended') && list.some((e) => e.type === 'delivery.changed'));
  for (const event of events) t.is(validator.errorsOf('StreamMessage', event), undefined, JSON.stringify(event));
});

test('the panel\'s reads and files answer as the document says', async (t) => {
  const svc = await service(t);
  const owner = { 'x-session-token': await svc.login('demo') };
  validator.conforms(t, 'get', '/me', await svc.http.get('me', { headers: owner }));
  validator.conforms(t, 'get', '/processors', await svc.http.get('processors', { headers: owner }));
  validator.conforms(t, 'get', '/processors/{name}', await svc.http.get(`processors/${SAMPLES.pip.name}`, { headers: owner }));
  validator.conforms(t, 'get', '/processors/{name}', await svc.http.get('processors/-bad', { headers: owner }));
  validator.conforms(t, 'get', '/processors/{name}', await svc.http.get('processors/nope', { headers: owner }));
  validator.conforms(t, 'get', '/', await svc.http.get('', { followRedirect: false }));
  validator.conforms(t, 'get', '/ui/', await svc.http.get('ui/'));
  validator.conforms(t, 'get', '/ui/{file}', await svc.http.get('ui/lib/api.js'));
  validator.conforms(t, 'get', '/ui/{file}', await svc.http.get('ui/nope.js'));
});
