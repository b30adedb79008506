import { lstatSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.ts';
import { InvalidInputError } from '../../domain/errors.ts';
import { packageKey, type GenerationPackage } from '../../domain/generations.ts';
import { orphansOf, type DryRun } from '../../domain/plans.ts';
import { isAllowedPython } from '../../domain/processor.ts';
import { managerVersionFrom, type ManagerVersion, type PackagesInfo } from '../../domain/packages.ts';
import { formatUpdateCommand, isValidPackageName, isValidVersion, type UpdateCommand } from '../../domain/update-command.ts';
import { ManagerError, redactUrls, resultError } from '../errors.ts';
import { runCommand, type CommandResult } from '../run-command.ts';
import { environmentLocationProblem, isInside } from '../environment-location.ts';
import { pep440Order } from '../version-order.ts';
import type { ApplyOptions, Environment, PackageManager, RunContext } from '../types.ts';
import { normaliseProjectName, packageExistsIn, stripExtras } from './pip-index.ts';
import { parsePipList, parsePipVersion, pipPackagesInfo, type PipListRow } from './pip-output.ts';
import { afterInstall, DEPENDENCY_SCRIPT, parseDependencies, parseInstallReport } from './pip-plan.ts';
import { uninstallRecordProblem } from './pip-records.ts';
import { requestedDistributions } from './pip-requested.ts';
import { ensureVenv, venvPython, venvState } from './pip-venv.ts';
import type { Pin, WheelCache } from './wheel-cache.ts';

export interface PipManagerOptions {
  /** Interpreter that creates a venv when the processor names none. */
  python: string;
  /** Further interpreters a processor may name (see isAllowedPython). */
  allowedPythons?: readonly string[];
  /** Venv folder relative to the processor folder. */
  venvDir: string;
  indexUrl: string;
  extraIndexUrls: readonly string[];
  /** Folders (absolute) or URLs. */
  findLinks: readonly string[];
  noIndex: boolean;
  /** The environment every pip process starts with, unchanged (pip's own PIP_* variables reach pip). */
  env: NodeJS.ProcessEnv;
  /** The distributions of every version a generation holds, installed from first by exact commands. */
  wheelCache?: WheelCache;
  log?: Logger;
}

/** On every pip call: no "new pip available" check against PyPI, and never a prompt (nobody can answer it). */
const COMMON_FLAGS = ['--disable-pip-version-check', '--no-input'];

/** A constraints file (one requirement a line) in a folder of its own, the `--constraint` flag that names it, and its removal. */
function constraintFile(requirements: readonly string[]): { flag: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-constraints-'));
  const file = join(dir, 'constraints.txt');
  writeFileSync(file, `${requirements.join('\n')}\n`, { mode: 0o600 });
  return { flag: `--constraint=${file}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** How many times a download for the wheel cache is asked again without a version the index lacks. */
const MAX_DOWNLOAD_TRIES = 20;

function pinOf(requirement: string): Pin {
  const [name, version] = requirement.split('==');
  return { name: name!, version: version! };
}

/** pip resolves these as paths to archives rather than as project names (pip's `is_archive_file`). */
const ARCHIVE_LIKE = /\.(whl|zip|tar|tgz|tbz|txz|tlz|tar\.(gz|bz2|xz|lz|lzma))$/i;

/**
 * pip in a virtual environment at `<processor folder>/<pip.venvDir>`, created on first use. Each call runs
 * `<venv>/bin/python -m pip …` without a shell, in the venv folder (so that no file in the processor folder
 * can be taken for a requirement), with the configured index options.
 */
export class PipManager implements PackageManager {
  readonly kind = 'pip' as const;
  private readonly creating = new Map<string, Promise<string>>();
  /** The wheel cache's downloads, one at a time, in the order asked. */
  private keeping: Promise<void> = Promise.resolve();

  constructor(readonly options: PipManagerOptions) {}

  static fromConfig(config: Config, env: NodeJS.ProcessEnv, extra: { wheelCache?: WheelCache; log?: Logger } = {}): PipManager {
    // A relative find-links folder means relative to procenv's working directory (as dataDir), not to wherever
    // pip runs: pip runs in the venv folder.
    const findLinks = config['pip.findLinks'].map((f) => (/^[a-z][a-z0-9+.-]*:/i.test(f) || isAbsolute(f) ? f : resolve(f)));
    return new PipManager({
      python: config['pip.python'],
      allowedPythons: config['pip.allowedPythons'],
      venvDir: config['pip.venvDir'],
      indexUrl: config['pip.indexUrl'],
      extraIndexUrls: config['pip.extraIndexUrls'],
      findLinks,
      noIndex: config['pip.noIndex'],
      env,
      ...extra,
    });
  }

  /** A refused environment is not there for a read: nothing in it is run. */
  hasEnvironment(env: Environment): boolean {
    return this.environmentProblem(env) === undefined && venvState(this.venvDirOf(env)) === 'ready';
  }

  /**
   * Why this processor's environment must not be used: a `python` the configuration does not allow, or a venv that
   * is not a real folder inside the processor folder (environment-location.ts). Undefined when it may be used.
   */
  environmentProblem(env: Environment): string | undefined {
    const python = env.processor.python?.trim();
    if (python && !isAllowedPython(python, this.options.python, this.options.allowedPythons ?? [])) {
      return `processor.json names the interpreter "${python.slice(0, 120)}", which pip.allowedPythons does not allow`;
    }
    return environmentLocationProblem(env.folder, this.options.venvDir, `pip.venvDir "${this.options.venvDir}"`)
      ?? interpreterProblem(env.folder, this.venvDirOf(env));
  }

  venvDirOf(env: Environment): string {
    return join(env.folder, this.options.venvDir);
  }

  pythonOf(env: Environment): string {
    return venvPython(this.venvDirOf(env));
  }

  /**
   * Creates the processor's venv unless a finished one is there (see pip-venv.ts); answers its folder.
   * Concurrent calls for one processor share one creation.
   */
  ensureEnvironment(env: Environment, ctx: RunContext = {}): Promise<string> {
    // Checked before every pip call, not once: the tenant can change the folder at any time.
    const problem = this.environmentProblem(env);
    if (problem) return Promise.reject(new ManagerError('ENVIRONMENT_REFUSED', `the environment is refused: ${problem}`, { details: { processor: env.processor.name } }));
    const dir = this.venvDirOf(env);
    const pending = this.creating.get(dir);
    if (pending) return pending;
    const python = env.processor.python?.trim() || this.options.python;
    const created = ensureVenv({ dir, python, env: this.options.env }, this.context(ctx)).finally(() => this.creating.delete(dir));
    this.creating.set(dir, created);
    return created;
  }

  /** The index options of install and `list --outdated` (uninstall takes none). */
  indexArgs(): string[] {
    const o = this.options;
    return [
      ...(o.indexUrl ? [`--index-url=${o.indexUrl}`] : []),
      ...o.extraIndexUrls.map((u) => `--extra-index-url=${u}`),
      ...o.findLinks.map((f) => `--find-links=${f}`),
      ...(o.noIndex ? ['--no-index'] : []),
    ];
  }

  async version(env: Environment, ctx: RunContext = {}): Promise<ManagerVersion> {
    const result = await this.pip(env, ['--version'], ctx, 'pip --version');
    return parsePipVersion(result.stdout);
  }

  async snapshot(env: Environment, ctx: RunContext = {}): Promise<PackagesInfo> {
    const installed = parsePipList((await this.pip(env, ['list', '--format=json'], ctx, 'pip list')).stdout, 'pip list');
    // The pip that runs is the venv's own, which `pip list` names with its version: one pip process fewer per
    // snapshot (a third of its cost) than asking `pip --version`, which is left for a venv whose list lacks pip.
    const ownPip = installed.find((r) => normaliseProjectName(r.name) === 'pip');
    const manager = ownPip ? managerVersionFrom('pip', ownPip.version) : await this.version(env, ctx);
    let outdated: PipListRow[] = [];
    try {
      const result = await this.pip(env, ['list', '--outdated', '--format=json', ...this.indexArgs()], ctx, 'pip list --outdated');
      outdated = parsePipList(result.stdout, 'pip list --outdated');
    } catch (err) {
      // Which versions are newer is extra information that needs the index; what is installed does not. An
      // index that is down or slow must not make the processor's package list unavailable, so the snapshot
      // keeps every package (as up to date) and says why in the output. (pip itself reports an unreachable
      // index as "no newer version" with exit 0; this covers a timeout, a crash, output that is not JSON.)
      // A cancel is the caller's wish, not the index's state: it still fails the snapshot.
      if (err instanceof ManagerError && err.code === 'COMMAND_CANCELLED') throw err;
      const reason = err instanceof Error ? err.message.replace(':\n', ': ').split('\n').join(' | ') : String(err);
      ctx.onLine?.('stderr', redactUrls(`WARNING: procenv: newer versions unknown, every package is listed as up to date: ${reason}`));
    }
    // Read after `pip list`, from the same venv: whether each package was asked for or came in as a dependency.
    return pipPackagesInfo(manager, installed, outdated, requestedDistributions(this.venvDirOf(env)));
  }

  /** PEP 440 order; undefined for a version PEP 440 cannot read (a legacy version). */
  compareVersions(a: string, b: string): number | undefined {
    return pep440Order(a, b);
  }

  /**
   * Runs the commands in order and stops at the first failure. Success is pip's own verdict, its exit status.
   * So `pip install x` when x is already there ("Requirement already satisfied") and `pip uninstall -y x` when
   * x is not installed ("WARNING: Skipping x as it is not installed") are successes: the environment is in the
   * state the command asks for, and replaying a history onto an environment that already has part of it goes
   * on. WASDI's container server answered 409 for both because it looked for "Successfully" in the output
   * (reference §3.3 quirk); that stopped replays for no reason.
   */
  async apply(env: Environment, commands: UpdateCommand[], ctx: RunContext = {}, options: ApplyOptions = {}): Promise<void> {
    // Check every command before running any, so a bad one late in the batch does not leave half a batch done.
    const argv = commands.map((command) => this.commandArgs(command, options));
    const constraints = options.constraints?.length ? constraintFile(options.constraints) : undefined;
    try {
      await this.applyEach(env, commands, argv, ctx, options, constraints?.flag);
    } finally {
      constraints?.remove();
    }
  }

  private async applyEach(env: Environment, commands: UpdateCommand[], argv: string[][], ctx: RunContext, options: ApplyOptions, constraint: string | undefined): Promise<void> {
    for (const [index, plain] of argv.entries()) {
      // Held packages pinned where they are: pip's resolver may not move them to satisfy anything (installs only).
      const args = constraint && plain[0] === 'install' ? [plain[0], constraint, ...plain.slice(1)] : plain;
      const command = commands[index]!;
      const details = { updateCommand: formatUpdateCommand(command), index };
      const what = `pip ${args[0]} ${args.at(-1)}`;
      const cache = this.options.wheelCache;
      const pin = command.action !== 'removePackage' && command.version !== undefined ? { name: stripExtras(command.name), version: command.version } : undefined;
      if (options.exact && cache && pin && cache.has(pin)) {
        // From the cache alone first: the version may have left the index, or the index may be unreachable.
        cache.touch([pin]);
        const offline = ['install', ...COMMON_FLAGS, ...(constraint ? [constraint] : []), '--no-deps', '--no-index', `--find-links=${cache.dir}`, args.at(-1)!];
        try {
          await this.pip(env, offline, ctx, `${what} (wheel cache)`, details, true);
          continue;
        } catch (err) {
          if (err instanceof ManagerError && (err.code === 'COMMAND_CANCELLED' || err.code === 'ENVIRONMENT_REFUSED')) throw err;
          ctx.onLine?.('stderr', `procenv: the wheel cache could not install ${args.at(-1)}; trying the index`);
        }
      }
      // install and uninstall both can delete what uninstall records list (install replaces old versions).
      await this.pip(env, args, ctx, what, details, true);
    }
  }

  /**
   * pip's dry run of each install command (`install --dry-run --report -`) laid over the installed set in order,
   * removals taken out, and the dependencies that removals would leave orphaned (from the installed distributions'
   * own metadata, read by the venv's interpreter). Exact commands are their own plan and need no dry run.
   */
  async dryRun(env: Environment, commands: UpdateCommand[], installed: readonly GenerationPackage[], ctx: RunContext = {}): Promise<DryRun> {
    const argv = commands.map((command) => this.commandArgs(command));
    let packages = [...installed];
    const removed: GenerationPackage[] = [];
    for (const [index, command] of commands.entries()) {
      const key = packageKey('pip', stripExtras(command.name));
      if (command.action === 'removePackage') {
        const gone = packages.find((p) => packageKey('pip', p.name) === key);
        if (gone) removed.push(gone);
        packages = packages.filter((p) => packageKey('pip', p.name) !== key);
        continue;
      }
      const args = argv[index]!;
      const dry = ['install', ...COMMON_FLAGS, '--dry-run', '--quiet', '--report=-', ...args.slice(1 + COMMON_FLAGS.length)];
      const result = await this.pip(env, dry, ctx, `pip install --dry-run ${args.at(-1)}`, { updateCommand: formatUpdateCommand(command), index });
      packages = afterInstall(packages, parseInstallReport(result.stdout));
    }
    if (removed.length === 0) return { packages, orphaned: [] };
    const dir = await this.ensureEnvironment(env, ctx);
    const result = await runCommand(venvPython(dir), ['-I', '-c', DEPENDENCY_SCRIPT], { cwd: dir, env: this.options.env, timeoutMs: ctx.timeoutMs, signal: ctx.signal });
    const error = resultError(result, 'reading the installed distributions\' dependencies', 'COMMAND_FAILED', {});
    if (error) throw error;
    return { packages, orphaned: orphansOf('pip', packages, removed, parseDependencies(result.stdout)) };
  }

  /**
   * Downloads the distributions of `packages` that the wheel cache lacks (`pip download --no-deps`, from the
   * configured index, for this venv's interpreter), one download at a time across processors. Failures are logged:
   * the cache is a help for later restores, never a condition of the change that made the generation.
   */
  keepPackages(env: Environment, packages: readonly GenerationPackage[]): void {
    const cache = this.options.wheelCache;
    if (!cache) return;
    this.keeping = this.keeping.then(() => this.download(env, cache, cache.missing(packages)))
      .catch((err) => this.options.log?.warn({ err, processor: env.processor.name }, 'wheel cache: download failed'));
  }

  /** Resolves when every download asked for so far has ended. */
  kept(): Promise<void> {
    return this.keeping;
  }

  private async download(env: Environment, cache: WheelCache, pins: Pin[]): Promise<void> {
    if (pins.length === 0 || !this.hasEnvironment(env)) return;
    let requirements = pins.filter((p) => isValidPackageName(p.name, 'pip') && isValidVersion(p.version, 'pip')).map((p) => `${p.name}==${p.version}`);
    // pip stops at the first version the index does not have: that one is left out and the rest asked again
    // (what was already downloaded is kept in the staging folder's place, the cache, and not asked again).
    for (let tries = 0; requirements.length > 0 && tries < MAX_DOWNLOAD_TRIES; tries++) {
      const staging = cache.stagingFolder();
      let missing: string | undefined;
      try {
        await this.pip(env, ['download', ...COMMON_FLAGS, '--no-deps', `--dest=${staging}`, ...this.indexArgs(), ...requirements], { timeoutMs: 10 * 60_000 }, 'pip download');
        requirements = [];
      } catch (err) {
        missing = /No matching distribution found for (\S+)/.exec((err as Error).message)?.[1];
        if (!missing || !requirements.includes(missing)) throw err;
        this.options.log?.info({ processor: env.processor.name, requirement: missing }, 'wheel cache: the index has no such version');
      } finally {
        const added = cache.adopt(staging);
        if (added) this.options.log?.info({ processor: env.processor.name, files: added, bytes: cache.bytes() }, 'wheel cache: kept');
      }
      requirements = requirements.filter((r) => r !== missing && !cache.has(pinOf(r)));
    }
  }

  /** Whether `name` exists in the configured find-links and indexes (never anything else); see pip-index.ts. */
  async packageExists(name: string, ctx: RunContext = {}): Promise<boolean | undefined> {
    const o = this.options;
    const indexUrls = o.noIndex ? [] : [o.indexUrl, ...o.extraIndexUrls].filter((u) => u.trim() !== '');
    return packageExistsIn({ findLinks: o.findLinks, indexUrls }, name, { signal: ctx.signal, timeoutMs: ctx.timeoutMs });
  }

  /** pip's arguments for one command; the requirement comes last. */
  private commandArgs(command: UpdateCommand, options: ApplyOptions = {}): string[] {
    const { action, name, version } = command;
    const bad = (why: string) => new InvalidInputError('INVALID_UPDATE_COMMAND', why, { details: { updateCommand: formatUpdateCommand(command).slice(0, 200) } });
    if (!isValidPackageName(name, 'pip')) throw bad(`"${name.slice(0, 80)}" is not a valid pip package name`);
    if (ARCHIVE_LIKE.test(stripExtras(name))) throw bad(`"${name.slice(0, 80)}" looks like an archive file, not a package name`);
    if (version !== undefined && !isValidVersion(version, 'pip')) throw bad(`"${version.slice(0, 40)}" is not a valid pip version`);
    const requirement = version === undefined ? name : `${name}==${version}`;
    // Exact pins go in without their dependencies: the set they come from names every package and its version.
    const exact = options.exact ? ['--no-deps', ...(this.options.wheelCache ? [`--find-links=${this.options.wheelCache.dir}`] : [])] : [];
    switch (action) {
      case 'addPackage':
        return ['install', ...COMMON_FLAGS, ...exact, ...this.indexArgs(), requirement];
      case 'upgradePackage':
        return ['install', ...COMMON_FLAGS, '-U', ...exact, ...this.indexArgs(), requirement];
      case 'removePackage':
        if (version !== undefined) throw bad('removePackage takes no version');
        // Without pip the environment cannot be managed any more (every later call would fail).
        if (normaliseProjectName(stripExtras(name)) === 'pip') throw bad('pip cannot be removed from its own environment');
        return ['uninstall', ...COMMON_FLAGS, '-y', stripExtras(name)];
      default:
        throw bad(`unknown action "${String(action).slice(0, 40)}"`);
    }
  }

  /** Output lines go to the caller with credentials in URLs masked (an index URL may carry a token). */
  private context(ctx: RunContext): RunContext {
    const onLine = ctx.onLine;
    return { ...ctx, onLine: onLine && ((stream, line) => onLine(stream, redactUrls(line))) };
  }

  /** Runs `<venv>/bin/python -m pip <args>` (common flags added where missing); throws unless pip succeeded. */
  private async pip(env: Environment, args: string[], ctx: RunContext, what: string, details: Record<string, unknown> = {}, mayUninstall = false): Promise<CommandResult> {
    const dir = await this.ensureEnvironment(env, ctx);
    // Checked right before the run, after the venv exists: its records are the tenant's (see pip-records.ts).
    const recordProblem = mayUninstall ? await uninstallRecordProblem(env.folder, dir) : undefined;
    if (recordProblem) {
      throw new ManagerError('ENVIRONMENT_REFUSED', `the environment is refused: pip.venvDir "${this.options.venvDir}": ${recordProblem}`, { details: { ...details, processor: env.processor.name } });
    }
    const c = this.context(ctx);
    const withFlags = args.includes(COMMON_FLAGS[0]!) ? args : [args[0]!, ...COMMON_FLAGS, ...args.slice(1)];
    const result = await runCommand(venvPython(dir), ['-m', 'pip', ...withFlags], {
      cwd: dir,
      env: this.options.env,
      timeoutMs: c.timeoutMs,
      signal: c.signal,
      onLine: c.onLine,
      onSpawn: c.onSpawn,
    });
    const error = resultError(result, what, 'COMMAND_FAILED', details);
    if (error) throw error;
    return result;
  }
}

/**
 * procenv runs `<venv>/bin/python -m pip`. In a venv made by `python -m venv` that is a link to the base interpreter;
 * a tenant could instead put a script there (or a link to another tenant's), and procenv would run it. The
 * interpreter must resolve outside the processors folder: to an interpreter of the machine, never to a file a
 * tenant wrote. (A venv made with `--copies` holds a copy of the interpreter and is refused for the same reason.)
 */
export function interpreterProblem(folder: string, venvDir: string): string | undefined {
  let target: string;
  try {
    // No interpreter yet (the usual case at registration): the venv is created by procenv itself.
    if (!lstatSync(venvPython(venvDir), { throwIfNoEntry: false })) return undefined;
    target = realpathSync.native(venvPython(venvDir));
  } catch {
    return undefined; // a dangling link: nothing runs from it
  }
  if (isInside(dirname(resolve(folder)), target)) {
    return `${join(basename(venvDir), 'bin', 'python')} resolves to a file inside the processors folder, not to an interpreter of the machine`;
  }
  return undefined;
}
