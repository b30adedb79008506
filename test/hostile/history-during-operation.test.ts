import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { createTemplateVenv, installedPackages, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService } from '../helpers/pip-service.ts';

// envActionsList.txt swapped for a link while the processor's change is queued: the change runs (pip installs), but
// its line is never written through the link; the operation ends ERROR saying so, and the link's target is
// untouched.

let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(() => template?.remove());

test('a history that is a link when the line is written: the operation ends ERROR HISTORY_UNREADABLE and the target is untouched', async (t) => {
  const svc = await startPipService(template, [['pe-hist', '1.0']]);
  t.teardown(() => svc.close());
  const folder = svc.catalog.folderOf(PIP_PROCESSOR);
  const secret = join(svc.root, 'other-tenant-history.txt');
  writeFileSync(secret, 'addPackage/private-thing/\n');
  rmSync(join(folder, 'envActionsList.txt'), { force: true });
  symlinkSync(secret, join(folder, 'envActionsList.txt'));

  const op = await svc.waitFor(await svc.update('addPackage/pe-hist/'), 120_000);
  t.is(op.status, 'ERROR');
  t.is(op.error?.code, 'HISTORY_UNREADABLE');
  t.regex(op.error?.message ?? '', /envActionsList\.txt/);
  t.is(readFileSync(secret, 'utf8'), 'addPackage/private-thing/\n', 'nothing written through the link');
  // pip did run: the operation says so in its log rather than hiding the change.
  t.is((await installedPackages(svc.venv))['pe-hist'], '1.0');
  const log = await svc.get(`operations/${op.processObjId}/log`);
  t.true((log.body as { line: string }[]).some((l) => /ran but could not be recorded/.test(l.line)));
});
