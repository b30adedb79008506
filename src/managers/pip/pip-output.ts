import { managerVersionFrom, type ManagerVersion, type PackageInfo, type PackagesInfo } from '../../domain/packages.ts';
import { ManagerError } from '../errors.ts';
import { normaliseProjectName } from './pip-index.ts';

/** `pip 23.2.1 from /…/site-packages/pip (python 3.11)` → WASDI's manager version (reference §7.2). */
export function parsePipVersion(stdout: string): ManagerVersion {
  const match = /^pip (\S+)/m.exec(stdout);
  if (!match) throw new ManagerError('UNEXPECTED_OUTPUT', `pip --version answered something else than "pip <version> …": ${JSON.stringify(stdout.slice(0, 200))}`);
  return managerVersionFrom('pip', match[1]!);
}

/** One row of `pip list --format=json` (with `--outdated`: also latest_version and latest_filetype). */
export interface PipListRow {
  name: string;
  version: string;
  latest_version?: string;
  latest_filetype?: string;
}

/** Parses `pip list --format=json`; anything but a list of `{ name, version }` is UNEXPECTED_OUTPUT. */
export function parsePipList(stdout: string, what: string): PipListRow[] {
  let json: unknown;
  try {
    // pip prints the JSON on one line; a warning a plugin printed on stdout before it would break JSON.parse.
    const line = stdout.split('\n').find((l) => l.trimStart().startsWith('[')) ?? stdout;
    json = JSON.parse(line);
  } catch (err) {
    throw new ManagerError('UNEXPECTED_OUTPUT', `${what} did not answer JSON`, { cause: err });
  }
  if (!Array.isArray(json)) throw new ManagerError('UNEXPECTED_OUTPUT', `${what} did not answer a JSON list`);
  return json.map((row: unknown) => {
    const r = row as Record<string, unknown> | null;
    if (!r || typeof r.name !== 'string' || typeof r.version !== 'string') {
      throw new ManagerError('UNEXPECTED_OUTPUT', `${what} answered a row without name and version`);
    }
    const out: PipListRow = { name: r.name, version: r.version };
    if (typeof r.latest_version === 'string') out.latest_version = r.latest_version;
    if (typeof r.latest_filetype === 'string') out.latest_filetype = r.latest_filetype;
    return out;
  });
}

/**
 * WASDI's pip snapshot (reference §2.1): `outdated` with latestVersion and type (pip's `latest_filetype`,
 * "wheel" or "sdist"), `uptodate` with the rest, both in pip's order (pip sorts by name ignoring case). `requested`
 * (normalised name → asked for by name, see pip-requested.ts) adds procenv's own `requested` to the packages it knows.
 */
export function pipPackagesInfo(manager: ManagerVersion, installed: PipListRow[], outdated: PipListRow[], requested: ReadonlyMap<string, boolean> = new Map()): PackagesInfo {
  const outdatedNames = new Set(outdated.map((r) => normaliseProjectName(r.name)));
  const flag = (name: string) => {
    const known = requested.get(normaliseProjectName(name));
    return known === undefined ? {} : { requested: known };
  };
  return {
    packageManager: manager,
    outdated: outdated.map((r): PackageInfo => ({
      managerName: 'pip',
      packageName: r.name,
      currentVersion: r.version,
      ...(r.latest_version === undefined ? {} : { latestVersion: r.latest_version }),
      ...(r.latest_filetype === undefined ? {} : { type: r.latest_filetype }),
      ...flag(r.name),
    })),
    uptodate: installed
      .filter((r) => !outdatedNames.has(normaliseProjectName(r.name)))
      .map((r): PackageInfo => ({ managerName: 'pip', packageName: r.name, currentVersion: r.version, ...flag(r.name) })),
  };
}
