import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { packageKey, packagesOf, type GenerationPackage } from '../../domain/generations.ts';
import type { ManagerVersion, PackagesInfo } from '../../domain/packages.ts';
import type { DryRun } from '../../domain/plans.ts';
import type { UpdateCommand } from '../../domain/update-command.ts';
import { ManagerError } from '../errors.ts';
import { runCommand, type CommandResult } from '../run-command.ts';
import { environmentLocationProblem } from '../environment-location.ts';
import { pep440Order } from '../version-order.ts';
import type { ApplyOptions, Environment, PackageManager, RunContext } from '../types.ts';
import {
  condaFlavourOf, condaSpecOf, createArgs, isValidChannel, listArgs, updateCommandArgs, versionArgs, type CondaFlavour,
} from './conda-cli.ts';
import { checkCondaResult, parseCondaActions, parseCondaList, parseCondaVersion } from './conda-output.ts';

export interface CondaManagerOptions {
  /** conda, mamba or micromamba: a name looked up on the child environment's PATH, or a path. */
  command: string;
  /** The prefix environment's folder, relative to the processor folder. */
  envDir: string;
  /** `-c` channels for create, install and update, in order. */
  channels: readonly string[];
  /** The whole environment of every child process. */
  env: NodeJS.ProcessEnv;
}

/** `--version` does not touch an environment; a minute is plenty even on a cold start of conda's Python. */
const VERSION_TIMEOUT_MS = 60_000;

/** A deadline shared by every process one manager call starts: RunContext.timeoutMs bounds the whole call. */
class Budget {
  private readonly deadline: number | undefined;
  constructor(timeoutMs: number | undefined) {
    this.deadline = timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs) ? Date.now() + timeoutMs : undefined;
  }
  /** Milliseconds left, at least 1 so that an exhausted budget still ends the next process as timed out. */
  remaining(cap?: number): number | undefined {
    const left = this.deadline === undefined ? undefined : Math.max(1, this.deadline - Date.now());
    if (cap === undefined) return left;
    return left === undefined ? cap : Math.min(left, cap);
  }
}

/**
 * The conda manager: one prefix environment per processor, `<processor folder>/<conda.envDir>`, driven through the
 * conda, mamba or micromamba command line with `--json`, from argument arrays (conda-cli.ts), judged on the exit
 * status and the JSON result together (conda-output.ts). Mirrors WASDI's conda server (reference §4, §7.2):
 * add/upgrade install `name=version`, remove removes, the snapshot is `conda list` in the `all` form.
 */
export class CondaManager implements PackageManager {
  readonly kind = 'conda' as const;
  readonly flavour: CondaFlavour;
  private readonly creating = new Map<string, Promise<void>>();

  constructor(readonly options: CondaManagerOptions) {
    this.flavour = condaFlavourOf(options.command);
  }

  static fromConfig(config: Config, env: NodeJS.ProcessEnv): CondaManager {
    const problems: string[] = [];
    const command = config['conda.command'].trim();
    if (command === '' || command.startsWith('-')) problems.push('conda.command: must name conda, mamba or micromamba');
    const envDir = config['conda.envDir'].trim();
    // Relative and inside the folder: an absolute or escaping prefix would be shared by every processor.
    if (envDir === '' || isAbsolute(envDir) || envDir.split(/[\\/]/).includes('..')) {
      problems.push('conda.envDir: must be a folder name relative to the processor folder, without ".."');
    }
    for (const channel of config['conda.channels']) {
      if (!isValidChannel(channel)) problems.push(`conda.channels: "${channel.slice(0, 60)}" is not a channel name or URL`);
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return new CondaManager({ command, envDir, channels: [...config['conda.channels']], env });
  }

  /** The environment's prefix: an absolute path, as conda wants for `-p`. */
  prefixOf(env: Environment): string {
    return resolve(env.folder, this.options.envDir);
  }

  /** Conda marks a prefix as an environment with its `conda-meta` folder. */
  hasEnvironment(env: Environment): boolean {
    return this.environmentProblem(env) === undefined && existsSync(join(this.prefixOf(env), 'conda-meta'));
  }

  /** Why the prefix must not be used: not a real folder inside the processor folder (environment-location.ts). */
  environmentProblem(env: Environment): string | undefined {
    return environmentLocationProblem(env.folder, this.options.envDir, `conda.envDir "${this.options.envDir}"`);
  }

  async version(_env: Environment, ctx: RunContext = {}): Promise<ManagerVersion> {
    const result = await this.run(versionArgs(), ctx, new Budget(ctx.timeoutMs), VERSION_TIMEOUT_MS);
    const what = `${this.flavour} --version`;
    checkCondaResult(result, what);
    return parseCondaVersion(`${result.stdout}\n${result.stderr}`, this.flavour);
  }

  /**
   * Creates the prefix environment when it does not exist yet (first use). Concurrent calls for one prefix share
   * one `create`. Failures are ENVIRONMENT_FAILED with the tool's message (COMMAND_CANCELLED / COMMAND_TIMEOUT kept).
   */
  async ensureEnvironment(env: Environment, ctx: RunContext = {}): Promise<void> {
    await this.ensureWithin(env, ctx, new Budget(ctx.timeoutMs));
  }

  async snapshot(env: Environment, ctx: RunContext = {}): Promise<PackagesInfo> {
    const budget = new Budget(ctx.timeoutMs);
    const packageManager = await this.version(env, { ...ctx, timeoutMs: budget.remaining() });
    await this.ensureWithin(env, ctx, budget);
    const result = await this.run(listArgs(this.prefixOf(env)), ctx, budget);
    // An empty successful output gives undefined here, which parseCondaList rejects: a list must print its array.
    const doc = checkCondaResult(result, `${this.flavour} list`);
    return { packageManager, all: parseCondaList(doc) };
  }

  /**
   * Most conda versions are PEP 440 versions too (`1.26.4`, `3.11.7`), and those are ordered as PEP 440 orders them;
   * conda's own ordering of the others (`1.1.1w`, `2023c`) is not reproduced: such a change is shown unordered.
   */
  compareVersions(a: string, b: string): number | undefined {
    return pep440Order(a, b);
  }

  /** Runs the commands in order and stops at the first failure (its ManagerError names the command). */
  async apply(env: Environment, commands: UpdateCommand[], ctx: RunContext = {}, options: ApplyOptions = {}): Promise<void> {
    const budget = new Budget(ctx.timeoutMs);
    // Checked before anything runs, so a bad command creates no environment.
    for (const command of commands) condaSpecOf(command);
    if (commands.length === 0) return;
    await this.ensureWithin(env, ctx, budget);
    const prefix = this.prefixOf(env);
    for (const command of commands) {
      const args = updateCommandArgs(prefix, this.options.channels, command, { exact: options.exact === true });
      const result = await this.run(args, ctx, budget);
      checkCondaResult(result, `${this.flavour} ${args[0]} ${command.action === 'removePackage' ? command.name : condaSpecOf(command)}`);
    }
  }

  /**
   * conda's own dry run of each command in order (`--dry-run --json`), its LINK and UNLINK lists laid over the
   * installed set. conda names both sides of a change. `orphaned` stays empty: conda's remove takes out what depends
   * on the package, and keeps its dependencies without saying which nothing else needs.
   */
  async dryRun(env: Environment, commands: UpdateCommand[], installed: readonly GenerationPackage[], ctx: RunContext = {}): Promise<DryRun> {
    const budget = new Budget(ctx.timeoutMs);
    for (const command of commands) condaSpecOf(command);
    await this.ensureWithin(env, ctx, budget);
    const prefix = this.prefixOf(env);
    const set = new Map(installed.map((p) => [packageKey('conda', p.name), p]));
    for (const command of commands) {
      const args = updateCommandArgs(prefix, this.options.channels, command, { dryRun: true });
      const result = await this.run(args, ctx, budget);
      const { link, unlink } = parseCondaActions(checkCondaResult(result, `${this.flavour} ${args[0]} --dry-run`));
      for (const p of packagesOf('conda', { all: unlink })) set.delete(packageKey('conda', p.name));
      for (const p of packagesOf('conda', { all: link })) set.set(packageKey('conda', p.name), p);
    }
    return { packages: [...set.values()], orphaned: [] };
  }

  private async ensureWithin(env: Environment, ctx: RunContext, budget: Budget): Promise<void> {
    // Checked before every use, not once: the tenant can change the folder at any time.
    const problem = this.environmentProblem(env);
    if (problem) throw new ManagerError('ENVIRONMENT_REFUSED', `the environment is refused: ${problem}`, { details: { processor: env.processor.name } });
    const prefix = this.prefixOf(env);
    if (this.hasEnvironment(env)) return;
    let pending = this.creating.get(prefix);
    if (pending === undefined) {
      pending = this.create(prefix, ctx, budget).finally(() => this.creating.delete(prefix));
      this.creating.set(prefix, pending);
    }
    await pending;
  }

  private async create(prefix: string, ctx: RunContext, budget: Budget): Promise<void> {
    const result = await this.run(createArgs(prefix, this.options.channels), ctx, budget);
    try {
      checkCondaResult(result, `${this.flavour} create`);
    } catch (err) {
      if (err instanceof ManagerError && err.code === 'COMMAND_FAILED') {
        throw new ManagerError('ENVIRONMENT_FAILED', `cannot create the conda environment: ${err.message}`, { cause: err, details: err.details });
      }
      throw err;
    }
    if (!existsSync(join(prefix, 'conda-meta'))) {
      throw new ManagerError('ENVIRONMENT_FAILED', `${this.flavour} create reported success but left no environment`);
    }
  }

  private run(args: string[], ctx: RunContext, budget: Budget, cap?: number): Promise<CommandResult> {
    const onLine = ctx.onLine;
    return runCommand(this.options.command, args, {
      env: this.options.env,
      timeoutMs: budget.remaining(cap),
      signal: ctx.signal,
      onSpawn: ctx.onSpawn,
      // conda's JSON progress records are separated by NUL bytes (`…}\n\0{…`): lines reach listeners without them.
      onLine: onLine === undefined ? undefined : (stream, line) => onLine(stream, line.replaceAll('\0', '')),
    });
  }
}
