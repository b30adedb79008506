import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { cleanPipEnv } from '../helpers/pip-env.ts';
import { startTestService } from '../helpers/service.ts';
import { SAMPLES, endpointPath, rawGet, tokenHeader } from '../http/support.ts';

// procenv runs `<venv>/bin/python -m pip`. A tenant's archive can carry a `.venv/bin/python` that is a script of
// its own: procenv must never run it, neither for a read (a live managerVersion) nor for an operation.

test('a venv whose bin/python is a tenant script is refused: the script never runs', async (t) => {
  const svc = await startTestService({}, { managerEnv: cleanPipEnv() });
  t.teardown(() => svc.close());
  const folder = join(svc.config.processorsDir, SAMPLES.pip.name);
  const marker = join(svc.root, 'tenant-code-ran');
  const bin = join(folder, '.venv', 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(folder, '.venv', 'pyvenv.cfg'), 'home = /usr/bin\ninclude-system-site-packages = false\n');
  writeFileSync(join(bin, 'python'), `#!/bin/sh\ntouch '${marker}'\necho "pip 99.0 from /x (python 3.11)"\n`);
  chmodSync(join(bin, 'python'), 0o755);
  writeFileSync(join(folder, 'packagesInfo.json'), '');
  const auth = tokenHeader(await svc.login('demo'));

  const version = await rawGet(svc, endpointPath('managerVersion', SAMPLES.pip), auth);
  t.is(version.status, 200);
  t.is(version.body, '', 'no live answer from a refused environment');

  const queued = await rawGet(svc, endpointPath('environmentupdate', SAMPLES.pip, 'removePackage/numpy/'), auth);
  t.is(queued.status, 200, queued.body);
  const id = (JSON.parse(queued.body) as { processObjId: string }).processObjId;
  let op = await svc.store.findOperation(id);
  for (let i = 0; i < 600 && op && !['DONE', 'ERROR', 'STOPPED'].includes(op.status); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    op = await svc.store.findOperation(id);
  }
  t.is(op?.status, 'ERROR');
  t.is(op?.error?.code, 'ENVIRONMENT_REFUSED');
  t.regex(op?.error?.message ?? '', /bin\/python/);
  t.false(existsSync(marker), 'the tenant script never ran');
});
