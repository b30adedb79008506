import test from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import { createTemplateVenv, installedPackages, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService } from '../helpers/pip-service.ts';

// A scheduled operation with real pip in a real venv, with wheels the test builds; no network. The timing cases are
// in schedules.test.ts (with the no-op manager); this one shows that the planned change is the one pip makes.
let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

test('a scheduled addPackage leaves the venv alone until its time, then installs the package', async (t) => {
  const svc = await startPipService(template, [['pe-sched', '1.0']]);
  t.teardown(() => svc.close());
  const after = Date.now() + 10_000;
  const res = await svc.http.post(`processors/${PIP_PROCESSOR}/operations`, {
    headers: { 'x-session-token': svc.token }, json: { commands: ['addPackage/pe-sched/'], deliverAfter: new Date(after).toISOString() },
  });
  t.is(res.statusCode, 202, res.body);
  const op = JSON.parse(res.body) as Operation;
  t.is(op.notBefore, after);
  await new Promise((r) => setTimeout(r, 1_500));
  t.is((await svc.get(`operations/${op.processObjId}`)).body.status, 'CREATED');
  t.false('pe-sched' in (await installedPackages(svc.venv)), 'nothing installed before its time');
  const done = await svc.waitFor(op.processObjId);
  t.is(done.status, 'DONE', JSON.stringify(done.error));
  t.true(done.operationStartTimestamp! >= after);
  t.is((await installedPackages(svc.venv))['pe-sched'], '1.0');
});
