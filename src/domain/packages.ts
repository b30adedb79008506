import { UnreadableFileError } from './errors.ts';

/** WASDI's `PackageViewModel` (reference §2). Absent and null fields are both left out of API JSON. */
export interface PackageInfo {
  managerName?: string;
  packageName: string;
  currentVersion?: string;
  currentBuild?: string;
  latestVersion?: string;
  type?: string;
  channel?: string;
  /**
   * procenv's own, not WASDI's: whether the package was asked for by name (pip's REQUESTED marker) or came in as a
   * dependency, as the manager reported it. Never written to packagesInfo.json nor served by listPackages (both take
   * PACKAGE_FIELDS only); it reaches the generation recorded after an operation.
   */
  requested?: boolean;
}

/** WASDI's `PackageManagerViewModel`; major/minor/patch are integers on the wire. */
export interface ManagerVersion {
  name?: string;
  version?: string;
  major: number;
  minor: number;
  patch: number;
}

/** WASDI's `PackageManagerFullInfoViewModel`, the content of `packagesInfo.json`. */
export interface PackagesInfo {
  packageManager?: ManagerVersion;
  outdated?: PackageInfo[];
  uptodate?: PackageInfo[];
  all?: PackageInfo[];
}

const PACKAGE_FIELDS = ['managerName', 'packageName', 'currentVersion', 'currentBuild', 'latestVersion', 'type', 'channel'] as const;

/** Java's `optInt`: integers, numeric strings, and 0 for anything else (`""` from the one-shot writer). */
function optInt(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return 0;
}

function optString(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function parseManagerVersion(value: unknown): ManagerVersion | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const out: ManagerVersion = { major: optInt(v.major), minor: optInt(v.minor), patch: optInt(v.patch) };
  const name = optString(v.name);
  const version = optString(v.version);
  return { ...(name === undefined ? {} : { name }), ...(version === undefined ? {} : { version }), ...out };
}

function parsePackageList(value: unknown, section: string, file: string): PackageInfo[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Array.isArray(value)) throw new UnreadableFileError('SNAPSHOT_UNREADABLE', `${file}: "${section}" is not a list`);
  const out: PackageInfo[] = [];
  for (const item of value) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new UnreadableFileError('SNAPSHOT_UNREADABLE', `${file}: "${section}" holds an entry that is not an object`);
    }
    const raw = item as Record<string, unknown>;
    const pkg: Partial<PackageInfo> = {};
    for (const field of PACKAGE_FIELDS) {
      const s = optString(raw[field]);
      if (s !== undefined) pkg[field] = s;
    }
    // WASDI's sort throws on a null packageName (a 500); an entry without a name is unreadable here too.
    if (pkg.packageName === undefined) {
      throw new UnreadableFileError('SNAPSHOT_UNREADABLE', `${file}: "${section}" holds an entry without packageName`);
    }
    out.push(pkg as PackageInfo);
  }
  return out;
}

/**
 * Parses `packagesInfo.json` in either on-disk form (reference §2.1): the Java form (nulls present, integer
 * versions, keys in any order) and the one-shot Python form (optional fields absent, string versions, maybe "").
 * Unknown keys are ignored, as WASDI's mapper does. Empty text or invalid JSON throws UnreadableFileError.
 */
export function parsePackagesInfo(text: string, file = 'packagesInfo.json'): PackagesInfo {
  if (text.trim() === '') throw new UnreadableFileError('SNAPSHOT_EMPTY', `${file} is empty`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UnreadableFileError('SNAPSHOT_UNREADABLE', `${file} is not valid JSON`, { cause: err });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UnreadableFileError('SNAPSHOT_UNREADABLE', `${file} is not a JSON object`);
  }
  const o = json as Record<string, unknown>;
  const info: PackagesInfo = {};
  const manager = parseManagerVersion(o.packageManager);
  if (manager) info.packageManager = manager;
  for (const section of ['outdated', 'uptodate', 'all'] as const) {
    const list = parsePackageList(o[section], section, file);
    if (list) info[section] = list;
  }
  return info;
}

/** listPackages: outdated + uptodate + all, sorted by name ignoring case (Java's CASE_INSENSITIVE_ORDER, stable). */
export function mergePackages(info: PackagesInfo): PackageInfo[] {
  const merged = [...(info.outdated ?? []), ...(info.uptodate ?? []), ...(info.all ?? [])];
  return merged
    .map((pkg, i) => ({ pkg, key: pkg.packageName.toUpperCase().toLowerCase(), i }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i))
    .map((e) => e.pkg);
}

/**
 * Whether a package has a newer version than the one installed: it names a latestVersion other than its
 * currentVersion (pip's `outdated` section does; its `uptodate` rows carry null). The panel marks rows by this rule.
 */
export function isOutdated(pkg: PackageInfo): boolean {
  return pkg.latestVersion !== undefined && pkg.latestVersion !== '' && pkg.latestVersion !== pkg.currentVersion;
}

/** The Java writer's form: every field present, nulls included (reference §2.1 A). */
export function toJavaForm(info: PackagesInfo): Record<string, unknown> {
  const pkg = (p: PackageInfo) => Object.fromEntries(PACKAGE_FIELDS.map((f) => [f, p[f] ?? null]));
  const out: Record<string, unknown> = {
    packageManager: info.packageManager
      ? { name: info.packageManager.name ?? null, version: info.packageManager.version ?? null, major: info.packageManager.major, minor: info.packageManager.minor, patch: info.packageManager.patch }
      : null,
  };
  if (info.outdated !== undefined || info.uptodate !== undefined) {
    out.outdated = info.outdated?.map(pkg) ?? null;
    out.uptodate = info.uptodate?.map(pkg) ?? null;
  }
  if (info.all !== undefined) out.all = info.all.map(pkg);
  return out;
}

/** Splits a version string into WASDI's manager-version fields (`pip -V` → `22.0.2` → 22, 0, 2). */
export function managerVersionFrom(name: string, version: string): ManagerVersion {
  const [major, minor, patch] = version.split('.');
  return { name, version, major: optInt(major), minor: optInt(minor), patch: optInt(patch) };
}
