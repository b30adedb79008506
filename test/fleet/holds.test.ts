import test from 'ava';
import type { Hold } from '../../src/domain/holds.ts';
import { createTemplateVenv, installedPackages, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService, type PipService } from '../helpers/pip-service.ts';

// Real pip in a real venv; hd-app 2.0 needs hd-dep 2.0, so holding hd-dep at 1.0 holds the app back too.
let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

const WHEELS = [['hd-app', '1.0', ['hd-dep>=1.0']], ['hd-app', '2.0', ['hd-dep>=2.0']], ['hd-dep', '1.0'], ['hd-dep', '2.0']] as const;
const HOLDS = `processors/${PIP_PROCESSOR}/holds`;

function client(svc: PipService, token = svc.token) {
  const headers = { 'x-session-token': token };
  const answer = (res: { statusCode: number; body: string }) => ({ status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined });
  return {
    put: async (pkg: string, json: unknown) => answer(await svc.http.put(`${HOLDS}/${pkg}`, { headers, json })),
    del: async (pkg: string) => answer(await svc.http.delete(`${HOLDS}/${pkg}`, { headers })),
    update: async (updateCommand: string) => answer(await svc.http.get('packageManager/environmentupdate', {
      headers, searchParams: { processorId: '5c1f4a8e-2b7d-4f3a-9e61-0d2c8b7a4f10', workspace: '-', updateCommand },
    })),
  };
}

test.serial('a held package is never moved: a change of it is refused up front, a dependency resolution cannot move it, and lifting the hold lets both through', async (t) => {
  t.timeout(240_000);
  const svc = await startPipService(template, WHEELS);
  t.teardown(() => svc.close());
  const owner = client(svc);
  for (const c of ['addPackage/hd-dep/1.0/', 'addPackage/hd-app/1.0/']) t.is((await svc.waitFor(await svc.update(c))).status, 'DONE');

  const placed = await owner.put('HD_dep', { reason: 'pinned for the GDAL build' });
  t.is(placed.status, 201, JSON.stringify(placed.body));
  t.like(placed.body as Hold, { processorName: PIP_PROCESSOR, package: 'HD_dep', key: 'hd-dep', reason: 'pinned for the GDAL build', userId: 'demo', version: '1.0' });
  t.is((await owner.put('hd-dep', { reason: 'pinned for the GDAL build, again' })).status, 200, 'one hold per package, replaced');
  t.deepEqual(((await svc.get(HOLDS)).body as Hold[]).map((h) => [h.key, h.reason]), [['hd-dep', 'pinned for the GDAL build, again']]);

  // A single change that would move it: 409 before anything is queued.
  for (const c of ['upgradePackage/hd-dep/', 'removePackage/hd-dep/', 'addPackage/hd-dep/2.0/']) {
    const refused = await owner.update(c);
    t.is(refused.status, 409, c);
    t.like(refused.body.error, { code: 'PACKAGE_HELD', details: { hold: { key: 'hd-dep' }, updateCommand: c } }, c);
  }
  const sameVersion = await owner.update('addPackage/hd-dep/1.0/');
  t.is(sameVersion.status, 200, 'an add of the version installed moves nothing');
  await svc.waitFor(sameVersion.body.processObjId);

  // Upgrading the app would need hd-dep 2.0: pip is given the hold as a constraint, so its resolver keeps the app at
  // the newest version that the held dependency allows (the one installed).
  const app = await svc.waitFor(await svc.update('upgradePackage/hd-app/'), 90_000);
  t.is(app.status, 'DONE', JSON.stringify(app.error));
  const log = ((await svc.get(`operations/${app.processObjId}/log`)).body as { line: string }[]).map((l) => l.line);
  t.true(log.includes('held packages kept as they are: hd-dep==1.0'), log.join('\n'));
  t.deepEqual(await installedPackages(svc.venv).then((p) => [p['hd-app'], p['hd-dep']]), ['1.0', '1.0']);

  // Who may: a reader cannot place or lift one, and bad input is refused.
  const stranger = client(svc, await svc.login('stranger'));
  t.like(await stranger.put('hd-dep', { reason: 'mine' }), { status: 403, body: { error: { code: 'PROCESSOR_NOT_WRITABLE' } } });
  t.like(await stranger.del('hd-dep'), { status: 403, body: { error: { code: 'PROCESSOR_NOT_WRITABLE' } } });
  t.is((await svc.http.get(HOLDS, { headers: { 'x-session-token': (await svc.login('stranger2')) } })).statusCode, 200, 'a public processor\'s holds are readable');
  t.like(await owner.put('hd-dep', {}), { status: 400, body: { error: { code: 'INVALID_BODY' } } });
  t.like(await owner.put('hd-dep', { reason: 'x'.repeat(501) }), { status: 400, body: { error: { code: 'INVALID_BODY' } } });
  t.like(await owner.put('--index-url', { reason: 'x' }), { status: 400, body: { error: { code: 'INVALID_PACKAGE_NAME' } } });
  t.like(await owner.del('hd-app'), { status: 404, body: { error: { code: 'HOLD_NOT_FOUND' } } });

  t.is((await owner.del('hd-dep')).status, 204);
  t.deepEqual((await svc.get(HOLDS)).body, []);
  const upgraded = await svc.waitFor(await svc.update('upgradePackage/hd-app/'), 90_000);
  t.is(upgraded.status, 'DONE', JSON.stringify(upgraded.error));
  t.deepEqual(await installedPackages(svc.venv).then((p) => [p['hd-app'], p['hd-dep']]), ['2.0', '2.0']);
});
