import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ManagerError, messageWithOutput, resultError } from '../errors.ts';
import { runCommand } from '../run-command.ts';
import type { RunContext } from '../types.ts';

/**
 * Marks a venv folder whose creation has not finished. `python -m venv` writes `bin/python` and `pyvenv.cfg`
 * first and installs pip last (ensurepip, the slow part), so a creation that failed or was killed leaves
 * something that looks like a venv but has no pip. The marker is written before `python -m venv` runs and
 * removed only once pip answers; a folder holding it is never taken as ready.
 *
 * Why not create into a temp folder and rename: a venv is not relocatable. `bin/activate`, `bin/pip` and the
 * `command` line of `pyvenv.cfg` hold its absolute path, and processors run those.
 */
export const CREATING_MARKER = '.procenv-creating';

export interface VenvSpec {
  /** The venv folder (`<processor folder>/<pip.venvDir>`). */
  dir: string;
  /** The interpreter that creates it (a name on PATH or a path). */
  python: string;
  /** The environment the interpreter starts with. */
  env: NodeJS.ProcessEnv;
}

export function venvPython(dir: string): string {
  return join(dir, 'bin', 'python');
}

export type VenvState = 'ready' | 'absent' | 'incomplete' | 'foreign';

/** What is at `dir`: a finished venv, nothing, a half-created one, or a folder that is not a venv at all. */
export function venvState(dir: string): VenvState {
  if (!existsSync(dir)) return 'absent';
  if (existsSync(join(dir, CREATING_MARKER))) return 'incomplete';
  // existsSync follows the bin/python symlink: a venv whose base interpreter is gone is not ready either.
  if (existsSync(venvPython(dir)) && existsSync(join(dir, 'pyvenv.cfg'))) return 'ready';
  return 'foreign';
}

/**
 * Creates the venv unless a finished one is there; answers its folder. A half-created venv is removed and made
 * again. A folder that is not a venv and was not made by procenv is left alone: procenv does not delete what
 * it did not create, so that is an ENVIRONMENT_FAILED asking a person to look.
 */
export async function ensureVenv(spec: VenvSpec, ctx: RunContext = {}): Promise<string> {
  const state = venvState(spec.dir);
  if (state === 'ready') return spec.dir;
  if (state === 'foreign') {
    throw new ManagerError('ENVIRONMENT_FAILED', `${spec.dir} exists but is not a virtual environment (no bin/python or pyvenv.cfg); remove it or change pip.venvDir`, { details: { folder: spec.dir } });
  }
  if (state === 'incomplete') await rm(spec.dir, { recursive: true, force: true });

  // The marker goes in before the folder gets its final name, so the folder never exists without it.
  await mkdir(dirname(spec.dir), { recursive: true });
  const staging = join(dirname(spec.dir), `.${basename(spec.dir)}.procenv-${process.pid}-${Date.now()}`);
  await mkdir(staging);
  await writeFile(join(staging, CREATING_MARKER), `${new Date().toISOString()} ${spec.python}\n`);
  try {
    await rename(staging, spec.dir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw new ManagerError('ENVIRONMENT_FAILED', `cannot create ${spec.dir}: ${(err as NodeJS.ErrnoException).code ?? 'rename failed'}`, { cause: err });
  }

  const run = { env: spec.env, timeoutMs: ctx.timeoutMs, signal: ctx.signal, onLine: ctx.onLine, onSpawn: ctx.onSpawn, cwd: spec.dir };
  try {
    const created = await runCommand(spec.python, ['-m', 'venv', spec.dir], run).catch((err: unknown) => {
      throw new ManagerError('ENVIRONMENT_FAILED', `cannot create the virtual environment with ${spec.python}: ${(err as Error).message}`, { cause: err, details: { python: spec.python } });
    });
    const createError = resultError(created, `${spec.python} -m venv`, 'ENVIRONMENT_FAILED');
    if (createError) throw createError;
    const pip = await runCommand(venvPython(spec.dir), ['-m', 'pip', '--version', '--disable-pip-version-check'], run);
    const pipError = resultError(pip, 'pip in the new virtual environment', 'ENVIRONMENT_FAILED');
    if (pipError) throw pipError;
  } catch (err) {
    // Leave nothing half-made behind; should this removal fail or never run (a crash), the marker still tells.
    await rm(spec.dir, { recursive: true, force: true }).catch(() => undefined);
    if (err instanceof ManagerError) throw err;
    throw new ManagerError('ENVIRONMENT_FAILED', messageWithOutput(`cannot create ${spec.dir}`, String(err)), { cause: err });
  }
  await rm(join(spec.dir, CREATING_MARKER), { force: true });
  return spec.dir;
}
