import { createHash } from 'node:crypto';
import { mergePackages, type PackagesInfo } from './packages.ts';
import type { ManagerKind } from './processor.ts';

/**
 * Generations: every state a processor's environment has been in, numbered per processor from 1, each immutable.
 * A generation is an exact package set and what made it; two states with the same package set have the same hash,
 * whichever node, processor or time they come from.
 */

/** One package of a generation, as its manager reported it. */
export interface GenerationPackage {
  /** As the manager spells it (`PyYAML`); compared by `packageKey`. */
  name: string;
  version: string;
  /** conda: the build string and the channel. */
  build?: string;
  channel?: string;
  /**
   * pip: true when the package was asked for by name, false when it came in as a dependency (pip's REQUESTED marker).
   * Absent when unknown (a packagesInfo.json written by another hand does not say). Not part of the hash: a fresh
   * environment installed from an export has every package asked for, and is the same set all the same.
   */
  requested?: boolean;
}

/** What made a generation: an operation, a packagesInfo.json changed by another hand, or procenv seeing the processor first. */
export type GenerationCause = 'operation' | 'disk' | 'first-seen';

/** A generation before the store gave it its number. */
export interface GenerationDraft {
  processorName: string;
  manager: { kind: ManagerKind; version?: string };
  cause: GenerationCause;
  /** cause 'operation': the operation and the user it ran for. */
  operationId?: string;
  userId?: string;
  /** ms since the epoch */
  at: number;
  /** sha256 (hex) of the canonical package set: see `generationHash`. */
  hash: string;
  /** In canonical order (`canonicalPackages`). */
  packages: GenerationPackage[];
}

/** A generation without its package set: what lists and events carry. */
export interface GenerationSummary extends Omit<GenerationDraft, 'packages'> {
  number: number;
  packageCount: number;
}

/** A generation with its package set: the manifest. */
export interface Generation extends GenerationSummary {
  packages: GenerationPackage[];
}

export function summaryOf(g: GenerationDraft & { number: number }): GenerationSummary {
  const { packages, ...rest } = g;
  return { ...rest, packageCount: packages.length };
}

/**
 * The identity of a package within a set: pip's names compare as PEP 503 normalises them (`PyYAML`, `pyyaml` and
 * `py_yaml` are one project); conda's names are compared as they are.
 */
export function packageKey(kind: ManagerKind, name: string): string {
  return kind === 'pip' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/** The package set of a packagesInfo.json (both WASDI forms): each package once, in canonical order. */
export function packagesOf(kind: ManagerKind, info: PackagesInfo): GenerationPackage[] {
  const seen = new Map<string, GenerationPackage>();
  for (const p of mergePackages(info)) {
    const key = packageKey(kind, p.packageName);
    if (seen.has(key)) continue;
    const pkg: GenerationPackage = { name: p.packageName, version: p.currentVersion ?? '' };
    if (kind === 'conda') {
      if (p.currentBuild !== undefined && p.currentBuild !== '') pkg.build = p.currentBuild;
      if (p.channel !== undefined && p.channel !== '') pkg.channel = p.channel;
    }
    if (typeof p.requested === 'boolean') pkg.requested = p.requested;
    seen.set(key, pkg);
  }
  return canonicalPackages(kind, [...seen.values()]);
}

/** Whether a packagesInfo.json holds a package list at all (`{}` from a broken writer holds none, not an empty one). */
export function hasPackageList(info: PackagesInfo): boolean {
  return info.outdated !== undefined || info.uptodate !== undefined || info.all !== undefined;
}

/** Sorted by package key (code points, so that every node and language sorts alike). */
export function canonicalPackages(kind: ManagerKind, packages: readonly GenerationPackage[]): GenerationPackage[] {
  return packages
    .map((p) => ({ p, key: packageKey(kind, p.name) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e) => e.p);
}

/** One line of the hashed text: JSON, so that no character in a name or version can make two sets hash alike. */
function hashLine(kind: ManagerKind, p: GenerationPackage): string {
  return kind === 'conda'
    ? JSON.stringify([packageKey(kind, p.name), p.version, p.build ?? '', p.channel ?? ''])
    : JSON.stringify([packageKey(kind, p.name), p.version]);
}

/**
 * The content hash of a package set: sha256 (hex) of one line per package, `["<key>","<version>"]` for pip and
 * `["<name>","<version>","<build>","<channel>"]` for conda, sorted by key, each ended by `\n`. The `requested` flag
 * and the manager's own version are left out: the hash says which packages are installed, not how they came.
 */
export function generationHash(kind: ManagerKind, packages: readonly GenerationPackage[]): string {
  const hash = createHash('sha256');
  for (const p of canonicalPackages(kind, packages)) hash.update(`${hashLine(kind, p)}\n`);
  return hash.digest('hex');
}

/** Orders two versions: negative, 0 or positive; undefined when the manager cannot order them. */
export type VersionOrder = (a: string, b: string) => number | undefined;

/** A package present on both sides in another version (or, for conda, another build or channel). */
export interface PackageChange {
  name: string;
  from: string;
  to: string;
  /** From the newer side of the comparison ("to"): whether it was asked for or came in as a dependency. */
  requested?: boolean;
  fromBuild?: string;
  toBuild?: string;
  fromChannel?: string;
  toChannel?: string;
}

export interface GenerationDiff {
  from: number;
  to: number;
  fromHash: string;
  toHash: string;
  added: GenerationPackage[];
  removed: GenerationPackage[];
  upgraded: PackageChange[];
  downgraded: PackageChange[];
  /** Another version the manager cannot order against the first, or the same version in another build or channel. */
  changed: PackageChange[];
}

function changeOf(a: GenerationPackage, b: GenerationPackage): PackageChange {
  return {
    name: b.name, from: a.version, to: b.version,
    ...(b.requested === undefined ? {} : { requested: b.requested }),
    ...(a.build !== b.build ? { ...(a.build ? { fromBuild: a.build } : {}), ...(b.build ? { toBuild: b.build } : {}) } : {}),
    ...(a.channel !== b.channel ? { ...(a.channel ? { fromChannel: a.channel } : {}), ...(b.channel ? { toChannel: b.channel } : {}) } : {}),
  };
}

/** What changed from one generation to another, each list in canonical order. */
export function diffGenerations(kind: ManagerKind, from: Generation, to: Generation, order: VersionOrder): GenerationDiff {
  const before = new Map(from.packages.map((p) => [packageKey(kind, p.name), p]));
  const after = new Map(to.packages.map((p) => [packageKey(kind, p.name), p]));
  const diff: GenerationDiff = {
    from: from.number, to: to.number, fromHash: from.hash, toHash: to.hash, added: [], removed: [], upgraded: [], downgraded: [], changed: [],
  };
  for (const [key, b] of after) {
    const a = before.get(key);
    if (!a) {
      diff.added.push(b);
      continue;
    }
    if (a.version === b.version && a.build === b.build && a.channel === b.channel) continue;
    const sign = a.version === b.version ? 0 : order(a.version, b.version);
    const change = changeOf(a, b);
    if (sign !== undefined && sign < 0) diff.upgraded.push(change);
    else if (sign !== undefined && sign > 0) diff.downgraded.push(change);
    else diff.changed.push(change);
  }
  for (const [key, a] of before) if (!after.has(key)) diff.removed.push(a);
  for (const list of [diff.added, diff.removed, diff.upgraded, diff.downgraded, diff.changed]) {
    list.sort((x, y) => {
      const [kx, ky] = [packageKey(kind, x.name), packageKey(kind, y.name)];
      return kx < ky ? -1 : kx > ky ? 1 : 0;
    });
  }
  return diff;
}
