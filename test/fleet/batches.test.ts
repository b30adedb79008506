import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import type { BatchView } from '../../src/services/batches.ts';
import { waitUntil } from '../helpers/cluster.ts';
import { createTemplateVenv, installedPackages, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService, type PipService } from '../helpers/pip-service.ts';

// Real pip in real venvs, three pip processors (sample_pip and two more of demo's), local wheels with
// Requires-Dist so that dependencies exist: bt-tool needs bt-dep and bt-shared; bt-keep needs bt-shared.
let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

const WHEELS = [
  ['bt-lib', '1.0'], ['bt-lib', '1.5'], ['bt-lib', '1.6'], ['bt-lib', '2.0'], ['bt-util', '1.0'], ['bt-util', '1.1'],
  ['bt-tool', '1.0', ['bt-dep', 'bt-shared']], ['bt-keep', '1.0', ['bt-shared']], ['bt-dep', '1.0'], ['bt-shared', '1.0'],
] as const;
const OTHERS = ['fleet_b', 'fleet_c'];

interface Answer { status: number; body: any }

async function fleet(t: { teardown(fn: () => Promise<void> | void): void }, overrides: Record<string, unknown> = {}): Promise<PipService & { venvOf(name: string): string; post(path: string, json: unknown, token?: string): Promise<Answer>; get2(path: string, token: string): Promise<Answer>; batchDone(id: string): Promise<BatchView> }> {
  const svc = await startPipService(template, WHEELS, overrides);
  t.teardown(() => svc.close());
  await svc.advisories?.ready();
  for (const [i, name] of OTHERS.entries()) {
    const folder = join(svc.config.processorsDir, name);
    mkdirSync(folder);
    await template.copyTo(join(folder, '.venv'));
    writeFileSync(join(folder, 'processor.json'), JSON.stringify({ processorId: `00000000-0000-4000-8000-00000000000${i}`, name, type: 'python_pip_2', userId: 'demo', isPublic: 1 }));
  }
  await waitUntil('the two new processors registered', async () => (await svc.store.findProcessorByName(OTHERS[1]!)) && (await svc.store.findProcessorByName(OTHERS[0]!)));
  const answer = (res: { statusCode: number; body: string }) => ({ status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined });
  const post = async (path: string, json: unknown, token = svc.token) => answer(await svc.http.post(path, { headers: { 'x-session-token': token }, json }));
  const get2 = async (path: string, token: string) => answer(await svc.http.get(path, { headers: { 'x-session-token': token } }));
  return Object.assign(svc, {
    venvOf: (name: string) => (name === PIP_PROCESSOR ? svc.venv : join(svc.config.processorsDir, name, '.venv')),
    post, get2,
    batchDone: (id: string) => waitUntil(`batch ${id} finished`, async () => {
      const b = (await svc.get(`batches/${id}`)).body as BatchView;
      return b.progress.finished ? b : undefined;
    }, 180_000, 300),
  });
}

const ALL = [PIP_PROCESSOR, ...OTHERS].sort();

test.serial('a batch reaches three processors with one operation each; upgrade-all upgrades what is outdated and skips a held package, saying so', async (t) => {
  t.timeout(420_000);
  const svc = await fleet(t);

  const install = await svc.post('batches', { processors: ALL, action: 'install', packages: ['bt-lib==1.0', 'bt-util==1.0'] });
  t.is(install.status, 202, JSON.stringify(install.body));
  t.deepEqual(install.body.results.map((r: { processor: string; commands: string[] }) => [r.processor, r.commands]), ALL.map((p) => [p, ['addPackage/bt-lib/1.0/', 'addPackage/bt-util/1.0/']]));
  const ops = new Set(install.body.results.map((r: { operationId: string }) => r.operationId));
  t.is(ops.size, 3, 'one operation per processor');
  const installed = await svc.batchDone(install.body.batchId);
  t.deepEqual(installed.progress, { total: 3, queued: 3, skipped: 0, refused: 0, byStatus: { CREATED: 0, RUNNING: 0, DONE: 3, ERROR: 0, STOPPED: 0 }, finished: true });
  for (const o of installed.operations) t.is(((await svc.get(`operations/${o.operationId}`)).body as Operation).batchId, install.body.batchId);

  // Each snapshot now knows the newer versions (pip list --outdated after the change): the updates list them.
  const updates = (await svc.get('updates')).body as { processor: string; counts: { regular: number }; updates: { package: string; available: string }[] }[];
  for (const p of ALL) {
    const u = updates.find((x) => x.processor === p);
    t.deepEqual(u?.updates.map((x) => [x.package, x.available]), [['bt-lib', '2.0'], ['bt-util', '1.1']], p);
  }

  t.is((await svc.http.put(`processors/fleet_b/holds/bt-util`, { headers: { 'x-session-token': svc.token }, json: { reason: 'ABI freeze' } })).statusCode, 201);
  const upgrade = await svc.post('batches', { processors: 'all', action: 'upgrade-all' });
  t.is(upgrade.status, 202, JSON.stringify(upgrade.body));
  const byName = new Map(upgrade.body.results.map((r: { processor: string }) => [r.processor, r]));
  t.like(byName.get('fleet_b'), { commands: ['upgradePackage/bt-lib/2.0/'], held: ['bt-util'] });
  t.like(byName.get('fleet_c'), { commands: ['upgradePackage/bt-lib/2.0/', 'upgradePackage/bt-util/1.1/'] });
  t.like(byName.get(PIP_PROCESSOR), { commands: ['upgradePackage/bt-lib/2.0/', 'upgradePackage/bt-util/1.1/'] });
  // The other sample processors (sample_oneshot, sample_conda) have no environment here, but are demo's: they are
  // part of "all" and their operations run (and fail) like any other; what matters is that each is listed.
  t.true(byName.has('sample_conda') && byName.has('sample_oneshot'));
  await svc.batchDone(upgrade.body.batchId);
  for (const p of ALL) {
    const versions = await installedPackages(svc.venvOf(p));
    t.deepEqual([versions['bt-lib'], versions['bt-util']], p === 'fleet_b' ? ['2.0', '1.0'] : ['2.0', '1.1'], p);
  }
  // Nothing left to upgrade on fleet_b but the held package: skipped, and why.
  const again = await svc.post('batches', { processors: ['fleet_b'], action: 'upgrade-all' });
  t.deepEqual(again.body.results, [{ processor: 'fleet_b', held: ['bt-util'], skipped: 'held: bt-util' }]);
  t.is(again.body.progress.queued, 0);

  // A single change of the held package is refused as the hold says; in a batch it is skipped.
  const remove = await svc.post('batches', { processors: ['fleet_b', 'fleet_c'], action: 'remove', packages: ['bt-util', 'bt-missing'] });
  t.like(remove.body.results[0], { processor: 'fleet_b', held: ['bt-util'], notInstalled: ['bt-missing'], skipped: 'held: bt-util' });
  t.like(remove.body.results[1], { processor: 'fleet_c', notInstalled: ['bt-missing'], commands: ['removePackage/bt-util/'] });
  await svc.batchDone(remove.body.batchId);
  t.false('bt-util' in (await installedPackages(svc.venvOf('fleet_c'))));

  const list = (await svc.get('batches')).body as BatchView[];
  t.deepEqual(list.map((b) => b.batchId), [remove.body.batchId, again.body.batchId, upgrade.body.batchId, install.body.batchId], 'newest first');
});

test.serial('removeDependencies removes the dependencies nothing else needs, and keeps one still required or asked for', async (t) => {
  t.timeout(300_000);
  const svc = await fleet(t);
  // sample_pip: bt-tool (needs bt-dep, bt-shared) and bt-keep (needs bt-shared). fleet_b: bt-dep asked for itself.
  const a = await svc.post('batches', { processors: [PIP_PROCESSOR], action: 'install', packages: ['bt-tool', 'bt-keep'] });
  const b = await svc.post('batches', { processors: ['fleet_b'], action: 'install', packages: ['bt-dep', 'bt-tool'] });
  await svc.batchDone(a.body.batchId);
  await svc.batchDone(b.body.batchId);

  const removal = await svc.post('batches', { processors: [PIP_PROCESSOR, 'fleet_b'], action: 'remove', packages: ['bt-tool'], removeDependencies: true });
  t.is(removal.status, 202, JSON.stringify(removal.body));
  t.like(removal.body.results[0], { processor: 'fleet_b', commands: ['removePackage/bt-tool/', 'removePackage/bt-shared/'], orphans: ['bt-shared'] });
  t.like(removal.body.results[1], { processor: PIP_PROCESSOR, commands: ['removePackage/bt-tool/', 'removePackage/bt-dep/'], orphans: ['bt-dep'] });
  const done = await svc.batchDone(removal.body.batchId);
  t.deepEqual(done.operations.map((o) => o.status), ['DONE', 'DONE']);
  const pipNow = await installedPackages(svc.venv);
  t.deepEqual([pipNow['bt-tool'], pipNow['bt-dep'], pipNow['bt-shared'], pipNow['bt-keep']], [undefined, undefined, '1.0', '1.0'], 'bt-shared is still needed by bt-keep');
  const bNow = await installedPackages(svc.venvOf('fleet_b'));
  t.deepEqual([bNow['bt-tool'], bNow['bt-dep'], bNow['bt-shared']], [undefined, '1.0', undefined], 'bt-dep was asked for itself');
  // The history says exactly what ran, so WASDI's replay and the compute nodes do the same.
  const history = (await svc.get('packageManager/environmentActions', { name: PIP_PROCESSOR })).body as string[];
  t.deepEqual(history.slice(-2), ['removePackage/bt-tool/', 'removePackage/bt-dep/']);
});

test.serial('permissions and bad input: processors the caller cannot change are listed as refused, malformed batches are 400s, batches are their owner\'s', async (t) => {
  t.timeout(120_000);
  const svc = await fleet(t);
  const stranger = await svc.login('stranger');
  const admin = await svc.login('root', { admin: true });

  const named = await svc.post('batches', { processors: [PIP_PROCESSOR, 'sample_oneshot', 'no_such'], action: 'upgrade-all' }, stranger);
  t.is(named.status, 202);
  t.deepEqual(named.body.results.map((r: { processor: string; refused?: { code: string } }) => [r.processor, r.refused?.code]), [
    ['no_such', 'PROCESSOR_NOT_FOUND'], ['sample_oneshot', 'PROCESSOR_NOT_FOUND'], [PIP_PROCESSOR, 'PROCESSOR_NOT_WRITABLE'],
  ], 'a private processor of someone else is refused as unknown');
  const all = await svc.post('batches', { processors: 'all', action: 'upgrade-all' }, stranger);
  t.false(all.body.results.some((r: { processor: string }) => r.processor === 'sample_oneshot'), 'what the caller cannot read is not named');
  t.true(all.body.results.every((r: { refused?: { code: string } }) => r.refused?.code === 'PROCESSOR_NOT_WRITABLE'));

  t.is((await svc.get2(`batches/${named.body.batchId}`, stranger)).status, 200);
  t.is((await svc.get(`batches/${named.body.batchId}`)).status, 404, "another user's batch is not there for demo");
  t.is((await svc.get2(`batches/${named.body.batchId}`, admin)).status, 200, 'an admin sees every batch');
  t.deepEqual(((await svc.get('batches')).body as BatchView[]).length, 0);
  t.is((await svc.http.post('batches', { json: { processors: 'all', action: 'upgrade-all' } })).statusCode, 401);

  const bad: [unknown, string][] = [
    [{ processors: ALL, action: 'dist-upgrade' }, 'INVALID_ACTION'],
    [{ processors: [], action: 'upgrade-all' }, 'INVALID_PROCESSORS'],
    [{ processors: 'some', action: 'upgrade-all' }, 'INVALID_PROCESSORS'],
    [{ processors: [42], action: 'upgrade-all' }, 'INVALID_PROCESSORS'],
    [{ processors: ALL, action: 'install' }, 'INVALID_PACKAGES'],
    [{ processors: ALL, action: 'install', packages: ['bt-lib;rm -rf /'] }, 'INVALID_PACKAGES'],
    [{ processors: ALL, action: 'install', packages: ['bt-lib==>=1'] }, 'INVALID_PACKAGES'],
    [{ processors: ALL, action: 'remove', packages: ['bt-lib==1.0'] }, 'INVALID_PACKAGES'],
    [{ processors: ALL, action: 'upgrade-all', packages: ['bt-lib'] }, 'INVALID_BODY'],
    [{ processors: ALL, action: 'install', packages: ['bt-lib'], removeDependencies: true }, 'INVALID_BODY'],
    [{ processors: ALL, action: 'upgrade-all', everything: true }, 'INVALID_BODY'],
    [{ processors: ALL, action: 'security' }, 'NO_ADVISORY_DATABASE'],
    [[1, 2], 'INVALID_BODY'],
  ];
  for (const [body, code] of bad) {
    const res = await svc.post('batches', body);
    t.is(res.status, 400, JSON.stringify(body));
    t.is(res.body.error.code, code, JSON.stringify(body));
  }
  const text = await svc.http.post('batches', { headers: { 'x-session-token': svc.token, 'content-type': 'application/json' }, body: '{"processors": "all",' });
  t.is(text.statusCode, 400);
  t.is((await svc.get('batches/nope')).status, 404);
  t.is((await svc.post('batches/nope/cancel', {})).status, 404);
  t.deepEqual(((await svc.get('batches')).body as BatchView[]).length, 0, 'nothing was made of any of them');
});

/** An OSV advisory on bt-lib: `ranges` events, and an explicit `versions` list. */
function advisory(id: string, affected: { events?: Record<string, string>[]; versions?: string[] }): string {
  return JSON.stringify({
    schema_version: '1.6.0', id, modified: '2099-01-01T00:00:00Z', aliases: [`CVE-${id}`], summary: `bt-lib flaw ${id}`,
    database_specific: { severity: 'HIGH' },
    affected: [{ package: { ecosystem: 'PyPI', name: 'BT_lib' }, ...(affected.events ? { ranges: [{ type: 'ECOSYSTEM', events: affected.events }] } : {}), ...(affected.versions ? { versions: affected.versions } : {}) }],
  });
}

test.serial('a security batch lands each processor on the lowest version that clears every advisory, not the newest; the updates say which are security', async (t) => {
  t.timeout(300_000);
  const osv = mkdtempSync(join(tmpdir(), 'procenv-osv-'));
  t.teardown(() => rmSync(osv, { recursive: true, force: true }));
  // 1.0 is affected by both; 1.5 clears the first but is in the second's list; 1.6 clears both; 2.0 is the newest.
  writeFileSync(join(osv, 'BT-1.json'), advisory('BT-1', { events: [{ introduced: '0' }, { fixed: '1.5' }] }));
  writeFileSync(join(osv, 'BT-2.json'), advisory('BT-2', { events: [{ introduced: '1.0' }, { fixed: '1.6' }], versions: ['1.0', '1.5'] }));
  const svc = await fleet(t, { advisories: osv });

  const install = await svc.post('batches', { processors: ['fleet_b', PIP_PROCESSOR], action: 'install', packages: ['bt-lib==1.0', 'bt-util==1.1'] });
  await svc.batchDone(install.body.batchId);
  const updates = (await svc.get(`updates/${PIP_PROCESSOR}`)).body;
  t.deepEqual(updates.updates, [{ package: 'bt-lib', current: '1.0', available: '2.0', type: 'security', advisories: ['BT-1', 'BT-2'], fixedVersion: '1.6' }]);
  t.deepEqual(updates.counts, { security: 1, regular: 0 });
  t.deepEqual(((await svc.get('updates?security=true')).body as { processor: string }[]).map((u) => u.processor), ['fleet_b', PIP_PROCESSOR]);

  const security = await svc.post('batches', { processors: 'all', action: 'security' });
  t.is(security.status, 202, JSON.stringify(security.body));
  const byName = new Map(security.body.results.map((r: { processor: string }) => [r.processor, r]));
  t.like(byName.get(PIP_PROCESSOR), { commands: ['upgradePackage/bt-lib/1.6/'] });
  t.like(byName.get('fleet_b'), { commands: ['upgradePackage/bt-lib/1.6/'] });
  t.like(byName.get('fleet_c'), { skipped: 'no security update: no installed package has an advisory' });
  await svc.batchDone(security.body.batchId);
  for (const p of ['fleet_b', PIP_PROCESSOR]) t.is((await installedPackages(svc.venvOf(p)))['bt-lib'], '1.6', p);
  const after = (await svc.get(`audit`)).body;
  t.deepEqual(after.processors, [], 'nothing left to clear');
});
