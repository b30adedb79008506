import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import test from 'ava';
import { cleanPipEnv, createTemplateVenv, standInPython, type TemplateVenv } from '../helpers/pip-env.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { SAMPLES, endpointPath, json, rawGet, tokenHeader, writeProcessorFolder } from '../http/support.ts';

// A read-only user asking managerVersion in a loop must not make the node start one package-manager process per
// request: with an empty snapshot the answer comes from `pip --version` in the processor's venv, so it is looked up
// once per environment state, one lookup per processor at a time, and a node-wide limit caps the lookups at once.

let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(() => template?.remove());

/**
 * A real venv whose `bin/python` is a wrapper around the venv's own interpreter that notes each start and end in
 * `calls.log` (and lingers a little, as pip's start-up does on a busy node): real pip answers, and the test can
 * count the processes and how many ran at once.
 */
async function countedVenv(folder: string, log = join(folder, 'calls.log')): Promise<string> {
  const venv = join(folder, '.venv');
  await template.copyTo(venv);
  const tag = basename(folder);
  // The wrapper lives beside the processors folder: procenv refuses a bin/python that is a file of the tenant's.
  standInPython(venv, 'counted-python', `#!/bin/sh\necho "start ${tag}" >> '${log}'\n'${join(venv, 'bin', 'python3')}' "$@"\nstatus=$?\nsleep 0.2\necho "end ${tag}" >> '${log}'\nexit $status\n`);
  writeFileSync(log, '', { flag: 'a' });
  return log;
}

/** The starts (of one processor's venv, or of all) and the most that overlapped, from the wrappers' notes. */
function calls(log: string, tag?: string): { starts: number; maxOverlap: number } {
  let running = 0;
  let maxOverlap = 0;
  let starts = 0;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (line.startsWith('start ')) {
      if (tag === undefined || line === `start ${tag}`) starts++;
      maxOverlap = Math.max(maxOverlap, ++running);
    } else if (line.startsWith('end ')) {
      running--;
    }
  }
  return { starts, maxOverlap };
}

async function reader(svc: TestService): Promise<Record<string, string>> {
  await svc.store.saveUser({ userId: 'reader', role: 'USER' });
  return tokenHeader(await svc.login('reader'));
}

test('60 parallel managerVersion calls on an empty snapshot start one pip process, and a change of the environment asks again', async (t) => {
  const svc = await startTestService({}, { worker: false, managerEnv: cleanPipEnv() });
  t.teardown(() => svc.close());
  const folder = join(svc.config.processorsDir, SAMPLES.pip.name);
  const log = await countedVenv(folder);
  writeFileSync(join(folder, 'packagesInfo.json'), '');
  const headers = await reader(svc);
  // Let the watcher report that write first: a change seen later rightly makes the next call ask pip again.
  await new Promise((resolve) => setTimeout(resolve, 1500));

  const answers = await Promise.all(Array.from({ length: 60 }, () => rawGet(svc, endpointPath('managerVersion', SAMPLES.pip), headers)));
  t.true(answers.every((a) => a.status === 200));
  const versions = new Set(answers.map((a) => (json<{ version: string }>(a)).version));
  t.is(versions.size, 1, 'every caller got the same live answer');
  t.regex([...versions][0]!, /^\d+\.\d+/);
  t.is(calls(log).starts, 1, 'one pip --version for 60 callers');

  // Later calls are answered from the cache while the environment is unchanged.
  for (let i = 0; i < 5; i++) t.is((await rawGet(svc, endpointPath('managerVersion', SAMPLES.pip), headers)).status, 200);
  t.is(calls(log).starts, 1);

  // An operation (or any writer) rewrites packagesInfo.json: the catalog says so, and the next call asks pip again.
  writeFileSync(join(folder, 'packagesInfo.json'), ' ');
  svc.catalog.invalidate(SAMPLES.pip.name);
  t.is((await rawGet(svc, endpointPath('managerVersion', SAMPLES.pip), headers)).status, 200);
  t.is(calls(log).starts, 2);
});

test('live managerVersion lookups of many processors run at most managers.readProcesses at a time', async (t) => {
  const svc = await startTestService({ 'managers.readProcesses': 1 }, { worker: false, managerEnv: cleanPipEnv() });
  t.teardown(() => svc.close());
  // All four wrappers note their starts and ends in one file, so overlapping pip processes show as two starts in a row.
  const log = join(svc.root, 'all-calls.log');
  const names = ['app_one', 'app_two', 'app_three', 'app_four'];
  for (const [i, name] of names.entries()) {
    const folder = writeProcessorFolder(svc.config.processorsDir, name, { processorId: `live-${i}`, type: 'python_pip_2', userId: 'demo', isPublic: 1 }, {
      'packagesInfo.json': '',
    });
    await countedVenv(folder, log);
  }
  await svc.catalog.scan();
  const headers = await reader(svc);

  const answers = await Promise.all(names.flatMap((name) => Array.from({ length: 5 }, () => rawGet(svc, `/packageManager/managerVersion?name=${name}`, headers))));
  t.true(answers.every((a) => a.status === 200 && a.body !== ''), answers.map((a) => `${a.status} ${a.body}`).join('\n'));
  t.deepEqual(names.map((name) => calls(log, name).starts), [1, 1, 1, 1], 'each venv asked once');
  t.is(calls(log).maxOverlap, 1, 'never two lookups at once');
});
