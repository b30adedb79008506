import { basename } from 'node:path';
import { InvalidInputError } from '../../domain/errors.ts';
import { isValidPackageName, isValidVersion, type UpdateCommand } from '../../domain/update-command.ts';

/**
 * The argument arrays procenv gives conda, mamba and micromamba. Pure functions: no process is started here, so
 * the exact command lines are testable without a binary.
 *
 * The three tools share the sub-commands used here (`create`, `install`, `update`, `remove`, `list`) and their
 * options (`-y`, `--json`, `-p PREFIX`, `-c CHANNEL`), so one builder serves all; the flavour only changes how the
 * version line is read (see conda-output.ts).
 */
export type CondaFlavour = 'conda' | 'mamba' | 'micromamba';

/** The flavour of a configured command, from its basename: `/opt/mf/bin/mamba` → mamba, `micromamba.exe` → micromamba. */
export function condaFlavourOf(command: string): CondaFlavour {
  const name = basename(command.replaceAll('\\', '/')).toLowerCase().replace(/\.(exe|bat|cmd)$/, '');
  if (name.startsWith('micromamba')) return 'micromamba';
  if (name.startsWith('mamba')) return 'mamba';
  return 'conda';
}

/** A channel as given to `-c`: a name (`conda-forge`), a URL or a `file://` path; never something read as an option. */
export function isValidChannel(channel: string): boolean {
  return channel.length > 0 && channel.length <= 500 && !channel.startsWith('-') && !/[\s\u0000-\u001f\u007f]/.test(channel);
}

function channelArgs(channels: readonly string[]): string[] {
  return channels.flatMap((c) => ['-c', c]);
}

/**
 * The match spec of a command: `name` or `name=version`. A single `=` is conda's "version starts with" match, the
 * form WASDI's conda server uses (`conda install -y <name>=<version>`, reference §4): `numpy=1.21.5` installs
 * 1.21.5 (or a 1.21.5.x), `numpy=1.21` the newest 1.21.x.
 */
export function condaSpecOf(command: Pick<UpdateCommand, 'name' | 'version'>): string {
  if (!isValidPackageName(command.name, 'conda')) {
    throw new InvalidInputError('INVALID_UPDATE_COMMAND', `"${command.name.slice(0, 80)}" is not a valid conda package name`);
  }
  if (command.version === undefined) return command.name;
  if (!isValidVersion(command.version, 'conda')) {
    throw new InvalidInputError('INVALID_UPDATE_COMMAND', `"${command.version.slice(0, 40)}" is not a valid conda version`);
  }
  return `${command.name}=${command.version}`;
}

/** `create -y --json -p PREFIX [-c CH]… python`: a prefix environment with an interpreter, like WASDI's conda image. */
export function createArgs(prefix: string, channels: readonly string[]): string[] {
  return ['create', '-y', '--json', '-p', prefix, ...channelArgs(channels), 'python'];
}

/**
 * The arguments of one update command.
 * - addPackage: `install … name[=version]`.
 * - upgradePackage with a version: `install … name=version` (conda's `update` refuses version specs:
 *   "Invalid spec for 'conda update' … Use 'conda install' instead").
 * - upgradePackage without a version: `update … name`. `conda install name` on an installed package answers
 *   "All requested packages already installed" and changes nothing, so it cannot upgrade; `update` moves the
 *   package to the newest version the environment allows, and fails (PackageNotInstalledError) when it is absent.
 * - removePackage: `remove … name` (no channels: removing reads only the prefix).
 */
export function updateCommandArgs(prefix: string, channels: readonly string[], command: UpdateCommand, options: { exact?: boolean; dryRun?: boolean } = {}): string[] {
  const spec = condaSpecOf(command);
  // Exact pins (a restore, a rollback) go in without their dependencies: the generation names every package.
  const flags = [...(options.dryRun ? ['--dry-run'] : []), ...(options.exact && command.action !== 'removePackage' ? ['--no-deps'] : [])];
  switch (command.action) {
    case 'addPackage':
      return ['install', '-y', '--json', ...flags, '-p', prefix, ...channelArgs(channels), spec];
    case 'upgradePackage':
      return command.version === undefined
        ? ['update', '-y', '--json', ...flags, '-p', prefix, ...channelArgs(channels), spec]
        : ['install', '-y', '--json', ...flags, '-p', prefix, ...channelArgs(channels), spec];
    case 'removePackage':
      return ['remove', '-y', '--json', ...flags, '-p', prefix, command.name];
  }
}

/** `list --json -p PREFIX`: every package of the environment, as a JSON array. */
export function listArgs(prefix: string): string[] {
  return ['list', '--json', '-p', prefix];
}

/** `--version`: conda prints `conda 24.1.2`, mamba 1.x two lines, micromamba and mamba 2.x a bare version. */
export function versionArgs(): string[] {
  return ['--version'];
}
