import { execFile } from 'node:child_process';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { Limiter } from '../../src/util/limiter.ts';

const run = promisify(execFile);

/**
 * The environment every pip process a test starts gets: this process's, without any inherited `PIP_*` variable,
 * with `PIP_CONFIG_FILE=/dev/null` (pip then reads no config file: the machine-wide one names local indexes the
 * tests must not depend on) and no bytecode files written into the test's folders.
 */
export function cleanPipEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PIP_')) env[key] = value;
  }
  // VIRTUAL_ENV / PYTHONHOME of an activated shell would leak into the venvs the tests create.
  delete env.VIRTUAL_ENV;
  delete env.PYTHONHOME;
  delete env.PYTHONPATH;
  return { ...env, PIP_CONFIG_FILE: '/dev/null', PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

/** The interpreter tests create venvs with. */
export const PYTHON = 'python3';

/**
 * One venv made with `python -m venv` for a test file to copy (`cp -a`) per test: creating one costs seconds,
 * copying it a few hundred milliseconds. A copy works with `<copy>/bin/python -m pip` because Python finds its
 * venv from the `pyvenv.cfg` next to the (symlinked) interpreter, not from absolute paths.
 */
export interface TemplateVenv {
  dir: string;
  /** Copies the template to `target` (which must not exist yet). */
  copyTo(target: string): Promise<void>;
  remove(): Promise<void>;
}

export async function createTemplateVenv(): Promise<TemplateVenv> {
  const root = await mkdtemp(join(tmpdir(), 'procenv-venv-template-'));
  const dir = join(root, 'venv');
  await run(PYTHON, ['-m', 'venv', dir], { env: cleanPipEnv() });
  return {
    dir,
    copyTo: async (target) => {
      await run('cp', ['-a', dir, target]);
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/**
 * The distributions installed in a venv as a name → version map (names as their metadata spells them), read with
 * importlib.metadata: independent of pip, and a tenth of pip's start-up time.
 */
export async function installedPackages(venv: string): Promise<Record<string, string>> {
  const script = 'import importlib.metadata as m, json; print(json.dumps({d.metadata["Name"]: d.version for d in m.distributions()}))';
  const { stdout } = await run(join(venv, 'bin', 'python'), ['-c', script], { env: cleanPipEnv() });
  return JSON.parse(stdout) as Record<string, string>;
}

/**
 * ava's `test` with at most `n` of the file's tests running at a time (before/after hooks as usual): for files whose
 * tests each start pip or make venvs.
 */
export function throttledTest(n: number): TestFn {
  // pip is CPU-bound at start-up; a test file whose tests all start pip at once on a small machine makes each one
  // slow enough to hit its own time limits.
  const slots = new Limiter(n);
  return Object.assign(
    (title: string, fn: (t: ExecutionContext) => Promise<void>) => anyTest(title, (t) => slots.run(() => fn(t))),
    { before: anyTest.before, after: anyTest.after },
  ) as unknown as TestFn;
}

/** Live processes (zombies excluded) whose command line mentions `text`: what a kill should have left none of. */
export async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      if (/^\d+ \(.*\) [ZX] /.test(stat)) continue;
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/**
 * Makes `<venv>/bin/python` a stand-in interpreter (a shell script: one that hangs, one that is slow): the script
 * is written beside the processors folder, as the machine's interpreter would be, and `bin/python` links to it. `$0` in the
 * script is the venv's `bin/python`, so `"$(dirname "$0")/python3"` is the venv's real interpreter.
 */
export function standInPython(venv: string, name: string, script: string): void {
  const outside = join(dirname(dirname(dirname(venv))), `${name}-${basename(dirname(venv))}`);
  writeFileSync(outside, script, { mode: 0o755 });
  rmSync(join(venv, 'bin', 'python'), { force: true });
  symlinkSync(outside, join(venv, 'bin', 'python'));
}

/** Gives `<venv>/bin/python` back its real interpreter (the venv's python3 link) after `standInPython`. */
export function realPython(venv: string): void {
  rmSync(join(venv, 'bin', 'python'), { force: true });
  symlinkSync('python3', join(venv, 'bin', 'python'));
}
