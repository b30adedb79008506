import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../../config/schema.ts';
import { managerVersionFrom, type ManagerVersion } from '../../domain/packages.ts';
import type { Environment, PackageManager, RunContext } from '../types.ts';

const run = promisify(execFile);

/** pip in the processor's virtual environment (`<folder>/.venv`). */
export class PipManager implements PackageManager {
  readonly kind = 'pip' as const;

  static fromConfig(_config: Config, _env: NodeJS.ProcessEnv): PipManager {
    return new PipManager();
  }

  pythonOf(env: Environment): string {
    return join(env.folder, '.venv', 'bin', 'python');
  }

  async version(env: Environment, ctx: RunContext = {}): Promise<ManagerVersion> {
    const python = this.pythonOf(env);
    if (!existsSync(python)) throw new Error('the processor has no virtual environment yet');
    const { stdout } = await run(python, ['-m', 'pip', '--version'], { timeout: ctx.timeoutMs ?? 30_000, signal: ctx.signal });
    const match = /^pip (\S+)/.exec(stdout);
    if (!match) throw new Error('unexpected output from pip --version');
    return managerVersionFrom('pip', match[1]!);
  }
}
