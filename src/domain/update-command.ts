import { InvalidInputError } from './errors.ts';
import type { ManagerKind } from './processor.ts';

/**
 * WASDI's `updateCommand` (reference §4): `action "/" package [ "/" version ] [ "/" ]`.
 * WASDI validates only the package; procenv whitelists the action, checks the name and the version for syntax,
 * and rejects anything a package manager could read as an option, a URL or a path.
 */
export type UpdateAction = 'addPackage' | 'upgradePackage' | 'removePackage';

export const UPDATE_ACTIONS: readonly UpdateAction[] = ['addPackage', 'upgradePackage', 'removePackage'];

export interface UpdateCommand {
  action: UpdateAction;
  /** The package name, with pip extras if given (`name[extra]`). */
  name: string;
  /** An exact version; absent means latest. */
  version?: string;
}

export const MAX_COMMAND_LENGTH = 512;

// PEP 508 names, optional extras. Conda names may also start with `_` (`_libgcc_mutex`).
const PIP_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?(?:\[[A-Za-z0-9][A-Za-z0-9._-]{0,63}(?:,[A-Za-z0-9][A-Za-z0-9._-]{0,63}){0,15}\])?$/;
const CONDA_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;
// PEP 440, as in packaging's VERSION_PATTERN (case-insensitive), without surrounding spaces.
const PEP440 = /^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?(?:[-_.]?dev[-_.]?[0-9]*)?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$/i;
// Conda versions are looser (`1.1.1w`, `2022a`, `9e`) but never contain operators, spaces or slashes.
const CONDA_VERSION = /^[A-Za-z0-9](?:[A-Za-z0-9._+!-]{0,98})$/;

/** pip reads these as paths to archives, not as project names (pip's `is_archive_file`). */
const ARCHIVE_LIKE = /\.(whl|zip|tar|tgz|tbz|txz|tlz|tar\.(gz|bz2|xz|lz|lzma))$/i;

export function isValidPackageName(name: string, kind: ManagerKind): boolean {
  if (kind === 'pip' && ARCHIVE_LIKE.test(name.replace(/\[.*\]$/, ''))) return false;
  return (kind === 'conda' ? CONDA_NAME : PIP_NAME).test(name) && !name.includes('..');
}

export function isValidVersion(version: string, kind: ManagerKind): boolean {
  return version.length <= 100 && (kind === 'conda' ? CONDA_VERSION : PEP440).test(version);
}

function invalid(message: string, raw: string): InvalidInputError {
  return new InvalidInputError('INVALID_UPDATE_COMMAND', message, { details: { updateCommand: raw.slice(0, 200) } });
}

/**
 * Parses a command as it arrives in the query string (already decoded once by the HTTP layer).
 * A command that is still URL-encoded (`addPackage%2Fnumpy%2F`) is decoded once more. A space in the version
 * is read back as `+`, because WASDI's client puts the command in the URL unencoded and `+` arrives as a space.
 */
export function parseUpdateCommand(raw: string, kind: ManagerKind): UpdateCommand {
  if (raw.length > MAX_COMMAND_LENGTH) throw invalid(`updateCommand is longer than ${MAX_COMMAND_LENGTH} characters`, raw);
  let text = raw;
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw invalid('updateCommand is not valid URL encoding', raw);
    }
  }
  if (/[\u0000-\u001f\u007f]/.test(text)) throw invalid('updateCommand contains control characters', raw);
  const parts = text.split('/');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length < 2) {
    throw invalid('updateCommand must be <action>/<package>[/<version>]/', raw);
  }
  if (parts.length > 3) throw invalid('updateCommand has too many parts: <action>/<package>[/<version>]/', raw);
  const [action, rawName, rawVersion] = parts as [string, string, string | undefined];
  if (!(UPDATE_ACTIONS as readonly string[]).includes(action)) {
    throw invalid(`unknown action "${action.slice(0, 40)}": use addPackage, upgradePackage or removePackage`, raw);
  }
  let name = rawName;
  let version = rawVersion?.replaceAll(' ', '+');
  // WASDI's checkPipPackage accepts `name==version`; take it as name and version.
  const pinned = /^([^=]+)==([^=]+)$/.exec(name);
  if (pinned && version === undefined) {
    name = pinned[1]!;
    version = pinned[2]!.replaceAll(' ', '+');
  }
  if (name === '') throw invalid('updateCommand names no package', raw);
  if (!isValidPackageName(name, kind)) {
    throw invalid(`"${name.slice(0, 80)}" is not a valid ${kind} package name`, raw);
  }
  if (version !== undefined) {
    if (action === 'removePackage') throw invalid('removePackage takes no version', raw);
    if (version === '') throw invalid('updateCommand has an empty version', raw);
    if (!isValidVersion(version, kind)) throw invalid(`"${version.slice(0, 40)}" is not a valid ${kind} version`, raw);
  }
  return version === undefined ? { action: action as UpdateAction, name } : { action: action as UpdateAction, name, version };
}

/** The canonical text of a command, as WASDI's web client writes it (trailing slash). */
export function formatUpdateCommand(command: UpdateCommand): string {
  return command.version === undefined
    ? `${command.action}/${command.name}/`
    : `${command.action}/${command.name}/${command.version}/`;
}
