import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { cleanPipEnv, PYTHON } from '../helpers/pip-env.ts';
import { startTestService } from '../helpers/service.ts';
import { SAMPLES, endpointPath, json, rawGet, tokenHeader } from './support.ts';

const run = promisify(execFile);

// The pip the service starts must not read the machine's pip config or PIP_* variables (workplace rule); this
// file runs in its own process, so cleaning process.env here covers a manager that inherits it.
for (const key of Object.keys(process.env)) if (key.startsWith('PIP_')) delete process.env[key];
process.env.PIP_CONFIG_FILE = '/dev/null';

test('managerVersion of an empty snapshot answers the version of pip in the processor venv', async (t) => {
  const svc = await startTestService({}, { worker: false, managerEnv: cleanPipEnv() });
  t.teardown(() => svc.close());
  const folder = join(svc.config.processorsDir, SAMPLES.pip.name);
  const venv = join(folder, '.venv');
  try {
    await run(PYTHON, ['-m', 'venv', venv], { env: cleanPipEnv() });
  } catch (err) {
    t.log(`skipped: "${PYTHON} -m venv" is not available here (${(err as Error).message.split('\n')[0]})`);
    t.pass();
    return;
  }
  const { stdout } = await run(join(venv, 'bin', 'python'), ['-m', 'pip', '--version'], { env: cleanPipEnv() });
  const version = /^pip (\S+)/.exec(stdout)![1]!;
  const [major, minor, patch] = version.split('.').map((p) => Number.parseInt(p, 10) || 0);

  writeFileSync(join(folder, 'packagesInfo.json'), '');
  const res = await rawGet(svc, endpointPath('managerVersion', SAMPLES.pip), tokenHeader(await svc.login('demo')));
  t.is(res.status, 200);
  t.deepEqual(json(res), { name: 'pip', version, major, minor, patch: patch ?? 0 });
  t.log(`pip ${version} answered live`);
});
