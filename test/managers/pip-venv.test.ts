import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { loadConfig } from '../../src/config/load.ts';
import type { ConfigKey } from '../../src/config/schema.ts';
import { ManagerError } from '../../src/managers/errors.ts';
import { PipManager } from '../../src/managers/pip/pip-manager.ts';
import { CREATING_MARKER, venvState } from '../../src/managers/pip/pip-venv.ts';
import type { Environment } from '../../src/managers/types.ts';
import { cleanPipEnv, createTemplateVenv, installedPackages, processesMentioning, throttledTest, PYTHON, type TemplateVenv } from '../helpers/pip-env.ts';
import { buildWheel } from '../helpers/wheels.ts';

// Each venv creation keeps a CPU busy for seconds; two at a time.
const test = throttledTest(2);

let root: string;
let wheels: string;
let template: TemplateVenv;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'procenv-pip-venv-'));
  wheels = join(root, 'wheels');
  await mkdir(wheels);
  [template] = await Promise.all([createTemplateVenv(), buildWheel(wheels, 'demo-pkg', '1.0')]);
});

test.after.always(async () => {
  await template?.remove();
  await rm(root, { recursive: true, force: true });
});

async function processorFolder(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(root, 'proc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function environment(folder: string, python?: string): Environment {
  return { folder, processor: { processorId: 'p-1', name: 'proc', type: 'python_pip_2', userId: 'u', isPublic: false, ...(python ? { python } : {}) } };
}

function manager(overrides: Partial<Record<ConfigKey, unknown>> = {}): PipManager {
  return PipManager.fromConfig(loadConfig({ env: {}, overrides: { 'pip.noIndex': true, 'pip.findLinks': [wheels], ...overrides } }), cleanPipEnv());
}

/** An interpreter wrapper that logs each call's arguments, so a test sees which python created the venv. */
async function loggingPython(dir: string): Promise<{ path: string; calls: () => Promise<string[]> }> {
  const path = join(dir, 'logging-python');
  const log = join(dir, 'python-calls.log');
  await writeFile(path, `#!/bin/sh\necho "$*" >> '${log}'\nexec ${PYTHON} "$@"\n`);
  await chmod(path, 0o755);
  return { path, calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean) };
}

test('the venv is created on first use with the configured python, once for concurrent calls, at its final path', async (t) => {
  const folder = await processorFolder(t);
  const python = await loggingPython(folder);
  const pip = manager({ 'pip.python': python.path, 'pip.venvDir': 'env/py' });
  const env = environment(folder);
  const [version, info] = await Promise.all([pip.version(env), pip.snapshot(env)]);
  t.is(version.name, 'pip');
  t.deepEqual(info.packageManager, version);
  const venv = join(folder, 'env', 'py');
  t.is(venvState(venv), 'ready');
  t.deepEqual((await python.calls()).filter((c) => c.startsWith('-m venv')), [`-m venv ${venv}`]);
  // Made in place, not renamed: the scripts processors run hold the venv's own path.
  t.regex(await readFile(join(venv, 'bin', 'activate'), 'utf8'), new RegExp(`VIRTUAL_ENV="?${venv}`));
  await pip.apply(env, [{ action: 'addPackage', name: 'demo-pkg' }]);
  t.is((await installedPackages(venv))['demo-pkg'], '1.0');
});

test('a python named by the processor (and allowed by pip.allowedPythons) wins over the configured one', async (t) => {
  const folder = await processorFolder(t);
  const err = await t.throwsAsync(manager({ 'pip.allowedPythons': ['procenv-no-such-python'] }).version(environment(folder, 'procenv-no-such-python')), { instanceOf: ManagerError });
  t.is(err?.code, 'ENVIRONMENT_FAILED');
  t.regex(err!.message, /procenv-no-such-python/);
  t.is(venvState(join(folder, '.venv')), 'absent', 'nothing half-made is left');
});

test('a half-created venv (its creation was killed) is not taken as ready but made again', async (t) => {
  const folder = await processorFolder(t);
  const venv = join(folder, '.venv');
  await template.copyTo(venv);
  // What a creation killed with the service leaves: the marker, and whatever venv had written so far.
  await writeFile(join(venv, CREATING_MARKER), 'killed\n');
  await writeFile(join(venv, 'leftover.txt'), 'from the killed creation\n');
  t.is(venvState(venv), 'incomplete');
  const version = await manager().version(environment(folder));
  t.is(version.name, 'pip');
  t.is(venvState(venv), 'ready');
  await t.throwsAsync(stat(join(venv, 'leftover.txt')));
});

test('a creation cancelled midway fails with COMMAND_CANCELLED, kills python and leaves nothing taken as ready', async (t) => {
  const folder = await processorFolder(t);
  const venv = join(folder, '.venv');
  const pip = manager();
  const env = environment(folder);
  const controller = new AbortController();
  const creating = pip.ensureEnvironment(env, { signal: controller.signal });
  // Abort once venv has written its interpreter: the venv looks usable from then on, but pip is not there yet.
  for (let i = 0; i < 600 && venvState(venv) !== 'incomplete'; i++) await delay(10);
  for (let i = 0; i < 600; i++) {
    try {
      await stat(join(venv, 'bin', 'python'));
      break;
    } catch {
      await delay(10);
    }
  }
  controller.abort();
  const err = await t.throwsAsync(creating, { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_CANCELLED');
  t.not(venvState(venv), 'ready');
  t.deepEqual(await processesMentioning(venv), []);
  // The next call makes it properly.
  await pip.ensureEnvironment(env);
  t.is(venvState(venv), 'ready');
  t.is((await pip.version(env)).name, 'pip');
});

test('a folder at the venv path that is not a venv is left alone and reported', async (t) => {
  const folder = await processorFolder(t);
  await mkdir(join(folder, '.venv'));
  await writeFile(join(folder, '.venv', 'notes.txt'), 'mine\n');
  const err = await t.throwsAsync(manager().version(environment(folder)), { instanceOf: ManagerError });
  t.is(err?.code, 'ENVIRONMENT_FAILED');
  t.regex(err!.message, /not a virtual environment/);
  t.is(await readFile(join(folder, '.venv', 'notes.txt'), 'utf8'), 'mine\n');
});
