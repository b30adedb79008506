import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'ava';
import type { Generation, GenerationSummary } from '../../src/domain/generations.ts';
import type { Operation } from '../../src/domain/operation.ts';
import type { Plan } from '../../src/domain/plans.ts';
import { waitUntil } from '../helpers/cluster.ts';
import { createTemplateVenv, installedPackages, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService, type PipService } from '../helpers/pip-service.ts';

// Real pip in real venvs, local wheels with dependencies: pl-app pins its pl-dep, pl-lib brings pl-leaf along.
let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

const WHEELS = [
  ['pl-app', '1.0', ['pl-dep==1.0']], ['pl-app', '2.0', ['pl-dep==2.0']], ['pl-dep', '1.0'], ['pl-dep', '2.0'],
  ['pl-lib', '1.0', ['pl-leaf>=1']], ['pl-leaf', '1.0'],
] as const;

const BASE = `processors/${PIP_PROCESSOR}`;

function client(svc: PipService, token = svc.token) {
  const headers = { 'x-session-token': token };
  return {
    async post(path: string, json?: unknown, searchParams?: Record<string, string>) {
      const res = await svc.http.post(path, { headers, ...(json === undefined ? {} : { json }), ...(searchParams ? { searchParams } : {}) });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers };
    },
    async latest(): Promise<Generation> {
      const [newest] = (await svc.get(`${BASE}/generations`, { limit: '1' })).body as GenerationSummary[];
      return (await svc.get(`${BASE}/generations/${newest!.number}`)).body as Generation;
    },
  };
}

const gens = (g: Generation) => Object.fromEntries(g.packages.filter((p) => p.name.startsWith('pl-')).map((p) => [p.name, p.version]));

async function done(svc: PipService, op: Promise<string> | string): Promise<Operation> {
  const finished = await svc.waitFor(await op, 90_000);
  if (finished.status !== 'DONE') throw new Error(`operation ended ${finished.status}: ${JSON.stringify(finished.error)}`);
  return finished;
}

test.serial('a plan shows the whole change with dependencies and orphans; a stale plan is refused; a restore installs from the wheel cache after the index lost the versions, and its hash equals the target\'s', async (t) => {
  t.timeout(240_000);
  const svc = await startPipService(template, WHEELS, { 'pip.wheelCacheMegabytes': 64 });
  t.teardown(() => svc.close());
  const c = client(svc);
  await done(svc, svc.update('addPackage/pl-app/1.0/'));
  const two = await c.latest();
  t.deepEqual(gens(two), { 'pl-app': '1.0', 'pl-dep': '1.0' });
  await done(svc, svc.update('upgradePackage/pl-app/'));
  const three = await c.latest();
  t.deepEqual(gens(three), { 'pl-app': '2.0', 'pl-dep': '2.0' });

  // Adding pl-lib: pip's dry run names its dependency too.
  const add = await c.post(`${BASE}/plans`, { commands: ['addPackage/pl-lib/'] });
  t.is(add.status, 201, JSON.stringify(add.body));
  const addPlan = add.body as Plan;
  t.like(addPlan, { processorName: PIP_PROCESSOR, generation: three.number, hash: three.hash, exact: false, commands: ['addPackage/pl-lib/'] });
  t.is(add.headers.location, `/plans/${addPlan.planId}`);
  t.deepEqual(addPlan.changes, {
    added: [{ name: 'pl-leaf', version: '1.0', requested: false }, { name: 'pl-lib', version: '1.0', requested: true }],
    removed: [], upgraded: [], downgraded: [], changed: [], orphaned: [],
  });
  // Removing pl-app leaves its pinned dependency with nothing that needs it.
  const remove = (await c.post(`${BASE}/plans`, { commands: ['removePackage/pl-app/'] })).body as Plan;
  t.deepEqual(remove.changes.removed, [{ name: 'pl-app', version: '2.0', requested: true }]);
  t.deepEqual(remove.changes.orphaned, [{ name: 'pl-dep', version: '2.0', requested: false }]);
  t.deepEqual(gens(await c.latest()), gens(three), 'a plan changes nothing');

  // The first plan runs; the second was made on the generation before it and is refused with what changed since.
  const run = await c.post(`plans/${addPlan.planId}/execute`);
  t.is(run.status, 202, JSON.stringify(run.body));
  t.like(run.body, { planId: addPlan.planId, expect: { generation: three.number, hash: three.hash } });
  await done(svc, run.body.processObjId);
  const four = await c.latest();
  t.deepEqual(gens(four), { 'pl-app': '2.0', 'pl-dep': '2.0', 'pl-leaf': '1.0', 'pl-lib': '1.0' });
  const again = await c.post(`plans/${addPlan.planId}/execute`);
  t.is(again.status, 202);
  t.is(again.body.processObjId, run.body.processObjId, 'executing a plan twice answers its one operation');
  t.is(again.headers['idempotent-replayed'], 'true');
  const stale = await c.post(`plans/${remove.planId}/execute`);
  t.is(stale.status, 409);
  t.like(stale.body.error, { code: 'STALE_PLAN', details: { planGeneration: three.number, currentGeneration: four.number } });
  t.deepEqual(stale.body.error.details.changedSince.added.map((p: { name: string }) => p.name), ['pl-leaf', 'pl-lib']);

  // The wheel cache kept generation 2's versions when it was recorded; the index then loses them.
  const cache = join(resolve(svc.config.dataDir), 'wheels');
  await waitUntil('the wheel cache holds generation 2\'s versions', async () =>
    existsSync(cache) && ['pl_app-1.0-', 'pl_dep-1.0-'].every((p) => readdirSync(cache).some((f) => f.startsWith(p))));
  for (const f of readdirSync(svc.wheels)) if (/^pl_(app|dep)-1\.0-/.test(f)) rmSync(join(svc.wheels, f));

  const preview = await c.post(`${BASE}/generations/${two.number}/restore`, undefined, { plan: 'true' });
  t.is(preview.status, 200, JSON.stringify(preview.body));
  const restorePlan = preview.body as Plan;
  t.like(restorePlan, { exact: true, restoreOf: two.number, generation: four.number, resultHash: two.hash });
  t.deepEqual(restorePlan.commands, ['upgradePackage/pl-app/1.0/', 'upgradePackage/pl-dep/1.0/', 'removePackage/pl-leaf/', 'removePackage/pl-lib/']);
  t.deepEqual(restorePlan.changes.downgraded.map((d) => [d.name, d.from, d.to]), [['pl-app', '2.0', '1.0'], ['pl-dep', '2.0', '1.0']]);
  t.deepEqual(gens(await c.latest()), gens(four), 'a restore shown as a plan changes nothing');

  const restore = await c.post(`${BASE}/generations/${two.number}/restore`);
  t.is(restore.status, 202, JSON.stringify(restore.body));
  t.like(restore.body, { restoreOf: two.number, exact: true });
  const restored = await done(svc, restore.body.processObjId);
  const five = await c.latest();
  t.is(five.hash, two.hash, 'the restored environment is generation 2\'s package set');
  t.is(five.number, four.number + 1);
  t.is(five.operationId, restored.processObjId);
  const venv = await installedPackages(svc.venv);
  t.is(venv['pl-app'], '1.0');
  t.is(venv['pl-dep'], '1.0');
  t.false('pl-lib' in venv);
  const log = ((await svc.get(`operations/${restored.processObjId}/log`)).body as { line: string }[]).map((l) => l.line);
  t.true(log.some((l) => l.includes(cache)), 'pip was pointed at the wheel cache');
  // WASDI's replay of the history reaches the same versions.
  const history = readFileSync(join(svc.catalog.folderOf(PIP_PROCESSOR), 'envActionsList.txt'), 'utf8').trim().split('\n');
  t.deepEqual(history.slice(-4), restorePlan.commands);

  const nothing = await c.post(`${BASE}/generations/${two.number}/restore`);
  t.is(nothing.status, 409);
  t.is(nothing.body.error.code, 'NOTHING_TO_RESTORE');
});

test.serial('rollbackOnFailure: a batch that fails halfway is brought back to the generation it started from, and the operation says so', async (t) => {
  t.timeout(180_000);
  const svc = await startPipService(template, WHEELS);
  t.teardown(() => svc.close());
  const c = client(svc);
  await done(svc, svc.update('addPackage/pl-app/1.0/'));
  const start = await c.latest();
  // pl-app 2.0 (and its pl-dep 2.0) go in, then a version of pl-dep that does not exist fails.
  const submitted = await c.post(`${BASE}/operations`, { commands: ['upgradePackage/pl-app/2.0/', 'addPackage/pl-lib/1.0/', 'upgradePackage/pl-dep/9.9/'], rollbackOnFailure: true });
  t.is(submitted.status, 202, JSON.stringify(submitted.body));
  t.true(submitted.body.rollbackOnFailure);
  const op = await svc.waitFor(submitted.body.processObjId, 120_000);
  t.is(op.status, 'ERROR');
  t.is(op.appliedCount, 2);
  t.is(op.error?.code, 'COMMAND_FAILED');
  t.like(op.rollback, { generation: start.number, status: 'DONE' });
  t.deepEqual(op.rollback!.commands, ['upgradePackage/pl-app/1.0/', 'upgradePackage/pl-dep/1.0/', 'removePackage/pl-leaf/', 'removePackage/pl-lib/']);
  const after = await c.latest();
  t.is(after.hash, start.hash, 'the environment is the generation it started from');
  const venv = await installedPackages(svc.venv);
  t.deepEqual([venv['pl-app'], venv['pl-dep'], 'pl-lib' in venv, 'pl-leaf' in venv], ['1.0', '1.0', false, false]);
  const history = readFileSync(join(svc.catalog.folderOf(PIP_PROCESSOR), 'envActionsList.txt'), 'utf8').trim().split('\n');
  t.deepEqual(history.slice(-6), ['upgradePackage/pl-app/2.0/', 'addPackage/pl-lib/1.0/', ...op.rollback!.commands], 'the history replays to where the environment is');
});

test.serial('plans and restores answer 400 for bad input, 404 for what does not exist, 403 without write permission, and change nothing', async (t) => {
  const svc = await startPipService(template, WHEELS, {});
  t.teardown(() => svc.close());
  const owner = client(svc);
  const stranger = client(svc, await svc.login('stranger'));
  await waitUntil('the first generation', async () => (await svc.get(`${BASE}/generations/1`)).status === 200);
  const cases: [string, unknown, number, string, ReturnType<typeof client>?, Record<string, string>?][] = [
    [`${BASE}/plans`, { commands: [] }, 400, 'INVALID_BODY'],
    [`${BASE}/plans`, { commands: 'addPackage/pl-app/' }, 400, 'INVALID_BODY'],
    [`${BASE}/plans`, [], 400, 'INVALID_BODY'],
    [`${BASE}/plans`, { commands: ['addPackage/--index-url=http:x/'] }, 400, 'INVALID_UPDATE_COMMAND'],
    [`${BASE}/plans`, { commands: ['addPackage/pl-app/'] }, 403, 'PROCESSOR_NOT_WRITABLE', stranger],
    ['processors/no_such/plans', { commands: ['addPackage/pl-app/'] }, 403, 'PROCESSOR_NOT_ACCESSIBLE'],
    ['plans/no-such-plan', undefined, 404, 'PLAN_NOT_FOUND'],
    ['plans/no-such-plan/execute', undefined, 404, 'PLAN_NOT_FOUND'],
    [`${BASE}/generations/0/restore`, undefined, 400, 'INVALID_GENERATION_NUMBER'],
    [`${BASE}/generations/9/restore`, undefined, 404, 'GENERATION_NOT_FOUND'],
    [`${BASE}/generations/1/restore`, undefined, 400, 'INVALID_PARAMETER', owner, { plan: 'maybe' }],
    [`${BASE}/generations/1/restore`, undefined, 403, 'PROCESSOR_NOT_WRITABLE', stranger],
  ];
  for (const [path, body, status, code, who, query] of cases) {
    const res = path.startsWith('plans/no-such-plan') && !path.endsWith('execute')
      ? await (async () => { const r = await svc.http.get(path, { headers: { 'x-session-token': svc.token } }); return { status: r.statusCode, body: JSON.parse(r.body) }; })()
      : await (who ?? owner).post(path, body, query);
    t.deepEqual([res.status, res.body?.error?.code], [status, code], path);
  }
  const malformed = await svc.http.post(`${BASE}/plans`, { headers: { 'x-session-token': svc.token, 'content-type': 'application/json' }, body: '{"commands":' });
  t.deepEqual([malformed.statusCode, JSON.parse(malformed.body).error.code], [400, 'INVALID_BODY']);
  const ops = (await svc.get('operations')).body as Operation[];
  t.deepEqual(ops, [], 'nothing was queued');
});
