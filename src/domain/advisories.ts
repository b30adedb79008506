import { compare, eq, gt, valid } from '@renovatebot/pep440';

/**
 * Security advisories in the OSV format (https://ossf.github.io/osv-schema/), as an offline database gives them
 * (PyPI's OSV export: one JSON file per advisory), and the rules that match them against installed packages. Only
 * `affected[]` entries of the `PyPI` ecosystem are kept; names are compared as PEP 503 normalises them, versions
 * by PEP 440 (@renovatebot/pep440), never by hand.
 */

/** What an answer says of one advisory. */
export interface AdvisoryInfo {
  id: string;
  /** Other ids of the same advisory (CVE-…, GHSA-…). */
  aliases: string[];
  summary: string;
  /** `database_specific.severity` (LOW, MODERATE, HIGH, CRITICAL) when given, else the first CVSS vector of `severity[]`. */
  severity?: string;
}

export type RangeEventKind = 'introduced' | 'fixed' | 'last_affected';
export interface RangeEvent { kind: RangeEventKind; version: string }

/** One advisory's word on one package (every `affected[]` entry naming that package, merged). */
export interface PackageAdvisory {
  advisory: AdvisoryInfo;
  /** The package's PEP 503 key. */
  key: string;
  /** ECOSYSTEM ranges, each one's events sorted in PEP 440 order (introduced "0" first); events PEP 440 cannot parse are left out. */
  ranges: RangeEvent[][];
  /** Explicit affected versions, as the advisory spells them. */
  versions: ReadonlySet<string>;
  /** The fixed versions of its ranges, in PEP 440 order. */
  fixed: string[];
}

/** An advisory file read: its PyPI packages, or why it was not taken. */
export type ParsedAdvisory =
  | { ok: true; advisory: AdvisoryInfo; packages: PackageAdvisory[] }
  | { ok: false; reason: string };

/** Ids the way OSV spells them: `PYSEC-2023-1`, `GHSA-xxxx-xxxx-xxxx`, `CVE-2023-1234`. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const MAX_VERSION = 100;
const MAX_SUMMARY = 500;
/** Versions named by one advisory for one package, at most (real ones name a few hundred). */
const MAX_VERSIONS = 20_000;
const MAX_EVENTS = 2_000;

/** PEP 503: the name a package is known by, whatever its spelling (conda names go through the same rule). */
export function advisoryKey(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** The version PEP 440 reads, or null; long strings are not handed to the parser. */
export function pep440(version: string): string | null {
  return version.length <= MAX_VERSION ? valid(version) : null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function severityOf(doc: Record<string, unknown>): string | undefined {
  const specific = doc.database_specific;
  if (isObject(specific) && typeof specific.severity === 'string' && specific.severity.trim() !== '') return specific.severity.trim().toUpperCase().slice(0, 40);
  if (!Array.isArray(doc.severity)) return undefined;
  const scores = doc.severity.filter((s): s is { type: string; score: string } => isObject(s) && typeof s.type === 'string' && typeof s.score === 'string');
  const chosen = scores.find((s) => s.type === 'CVSS_V3') ?? scores.find((s) => s.type.startsWith('CVSS')) ?? scores[0];
  return chosen ? chosen.score.slice(0, 200) : undefined;
}

function summaryOf(doc: Record<string, unknown>): string {
  if (typeof doc.summary === 'string' && doc.summary.trim() !== '') return doc.summary.trim().slice(0, MAX_SUMMARY);
  if (typeof doc.details === 'string') return (doc.details.trim().split('\n')[0] ?? '').slice(0, MAX_SUMMARY);
  return '';
}

/** Sorts events in PEP 440 order, introduced "0" (every version) first; drops those PEP 440 cannot read. */
function sortedEvents(events: RangeEvent[]): RangeEvent[] {
  const readable = events.filter((e) => (e.kind === 'introduced' && e.version === '0') || pep440(e.version) !== null);
  const rank = (e: RangeEvent) => (e.kind === 'introduced' && e.version === '0' ? -1 : 0);
  return readable.sort((a, b) => rank(a) - rank(b) || (rank(a) === -1 ? 0 : compare(a.version, b.version)));
}

/**
 * One OSV document (already JSON-decoded, untrusted) → its PyPI packages. A document of the wrong shape is refused
 * with the reason; a withdrawn advisory and one without a PyPI package answer no packages.
 */
export function parseOsvAdvisory(doc: unknown): ParsedAdvisory {
  if (!isObject(doc)) return { ok: false, reason: 'not a JSON object' };
  if (typeof doc.id !== 'string' || !ID.test(doc.id)) return { ok: false, reason: 'no valid "id"' };
  if (doc.aliases !== undefined && doc.aliases !== null && !isStringArray(doc.aliases)) return { ok: false, reason: '"aliases" is not a list of strings' };
  if (doc.affected !== undefined && !Array.isArray(doc.affected)) return { ok: false, reason: '"affected" is not a list' };
  const advisory: AdvisoryInfo = {
    id: doc.id,
    aliases: ((doc.aliases as string[] | undefined) ?? []).filter((a) => ID.test(a)).slice(0, 50),
    summary: summaryOf(doc),
  };
  const severity = severityOf(doc);
  if (severity !== undefined) advisory.severity = severity;
  if (typeof doc.withdrawn === 'string' && doc.withdrawn !== '') return { ok: true, advisory, packages: [] };
  const byKey = new Map<string, { events: RangeEvent[][]; versions: Set<string> }>();
  for (const entry of (doc.affected as unknown[] | undefined) ?? []) {
    if (!isObject(entry)) return { ok: false, reason: 'an "affected" entry is not an object' };
    const pkg = entry.package;
    if (!isObject(pkg) || pkg.ecosystem !== 'PyPI') continue;
    if (typeof pkg.name !== 'string' || pkg.name.trim() === '' || pkg.name.length > 200) return { ok: false, reason: 'a PyPI "affected" entry has no valid package name' };
    if (entry.versions !== undefined && !isStringArray(entry.versions)) return { ok: false, reason: `"versions" of ${pkg.name.slice(0, 80)} is not a list of strings` };
    if (entry.ranges !== undefined && !Array.isArray(entry.ranges)) return { ok: false, reason: `"ranges" of ${pkg.name.slice(0, 80)} is not a list` };
    const key = advisoryKey(pkg.name.trim());
    let merged = byKey.get(key);
    if (!merged) byKey.set(key, merged = { events: [], versions: new Set() });
    for (const v of (entry.versions as string[] | undefined) ?? []) {
      if (merged.versions.size >= MAX_VERSIONS) return { ok: false, reason: `more than ${MAX_VERSIONS} versions for ${pkg.name.slice(0, 80)}` };
      if (v.length <= MAX_VERSION) merged.versions.add(v);
    }
    for (const range of (entry.ranges as unknown[] | undefined) ?? []) {
      if (!isObject(range) || !Array.isArray(range.events)) return { ok: false, reason: `a range of ${pkg.name.slice(0, 80)} has no "events" list` };
      // GIT and SEMVER ranges say nothing PEP 440 can compare for a PyPI package.
      if (range.type !== 'ECOSYSTEM') continue;
      if (range.events.length > MAX_EVENTS) return { ok: false, reason: `a range of ${pkg.name.slice(0, 80)} has more than ${MAX_EVENTS} events` };
      const events: RangeEvent[] = [];
      for (const event of range.events) {
        if (!isObject(event)) return { ok: false, reason: `an event of ${pkg.name.slice(0, 80)} is not an object` };
        for (const kind of ['introduced', 'fixed', 'last_affected'] as const) {
          const version = event[kind];
          if (version === undefined) continue;
          if (typeof version !== 'string') return { ok: false, reason: `"${kind}" of ${pkg.name.slice(0, 80)} is not a string` };
          events.push({ kind, version });
        }
      }
      const sorted = sortedEvents(events);
      if (sorted.length > 0) merged.events.push(sorted);
    }
  }
  const packages = [...byKey].map(([key, { events, versions }]): PackageAdvisory => ({
    advisory, key, ranges: events, versions,
    fixed: [...new Set(events.flat().filter((e) => e.kind === 'fixed').map((e) => e.version))].sort(compare),
  }));
  return { ok: true, advisory, packages };
}

/** OSV's evaluation of one range: walk the sorted events, each introduced opening and each fixed/last_affected closing. */
function inRange(events: readonly RangeEvent[], version: string): boolean {
  let affected = false;
  for (const e of events) {
    if (e.kind === 'introduced') {
      if (e.version === '0' || !gt(e.version, version)) affected = true;
    } else if (e.kind === 'fixed') {
      if (!gt(e.version, version)) affected = false;
    } else if (gt(version, e.version)) {
      affected = false;
    }
  }
  return affected;
}

/**
 * Whether the advisory affects this version of its package: an explicit `versions` entry (the very string, or an
 * equal PEP 440 version), or an ECOSYSTEM range. A version PEP 440 cannot read matches only an explicit entry, exactly.
 */
export function affects(pa: PackageAdvisory, version: string): boolean {
  if (pa.versions.has(version)) return true;
  if (pep440(version) === null) return false;
  for (const v of pa.versions) if (pep440(v) !== null && eq(v, version)) return true;
  return pa.ranges.some((events) => inRange(events, version));
}

export interface SecurityTarget {
  /** Ids of the advisories that affect the installed version. */
  advisories: string[];
  /** The lowest version that clears them all and that no other advisory affects; absent when none is known. */
  version?: string;
}

/**
 * The security target of an installed version, given every advisory on its package that counts (the ignored ones
 * left out by the caller): the advisories that affect it, and the lowest version among the advisories' fixed
 * versions above the installed one that none of them affects. None when the installed version is not PEP 440 (what
 * is "above" it is unknown) or when every fixed version is still affected by some advisory.
 */
export function securityTargetOf(advisories: readonly PackageAdvisory[], installedVersion: string): SecurityTarget {
  const affecting = advisories.filter((a) => affects(a, installedVersion));
  const ids = [...new Set(affecting.map((a) => a.advisory.id))].sort();
  if (affecting.length === 0 || pep440(installedVersion) === null) return { advisories: ids };
  const candidates = [...new Set(advisories.flatMap((a) => a.fixed))].filter((v) => gt(v, installedVersion)).sort(compare);
  const version = candidates.find((candidate) => !advisories.some((a) => affects(a, candidate)));
  return version === undefined ? { advisories: ids } : { advisories: ids, version };
}

/** A file of the database that was not taken, and why (its name as the database has it, shortened). */
export interface SkippedFile { file: string; reason: string }

/**
 * A loaded advisory database: every PyPI advisory, indexed by package key so that an audit looks up each installed
 * package instead of scanning the advisories. Immutable once built; a reload builds a new one.
 */
export class AdvisoryDatabase {
  private readonly byKey = new Map<string, PackageAdvisory[]>();
  private readonly ids = new Set<string>();

  /** Later documents with an id already seen replace nothing: the first one read wins. */
  add(parsed: Extract<ParsedAdvisory, { ok: true }>): boolean {
    if (this.ids.has(parsed.advisory.id)) return false;
    if (parsed.packages.length === 0) return true;
    this.ids.add(parsed.advisory.id);
    for (const pa of parsed.packages) {
      let list = this.byKey.get(pa.key);
      if (!list) this.byKey.set(pa.key, list = []);
      list.push(pa);
    }
    return true;
  }

  /** Advisories with at least one PyPI package. */
  get size(): number {
    return this.ids.size;
  }

  /** Package names with at least one advisory. */
  get packageCount(): number {
    return this.byKey.size;
  }

  /** Every advisory on a package (any spelling of its name). */
  forPackage(name: string): readonly PackageAdvisory[] {
    return this.byKey.get(advisoryKey(name)) ?? [];
  }

  /** The advisories that affect this version of the package. */
  affecting(name: string, version: string): PackageAdvisory[] {
    return this.forPackage(name).filter((a) => affects(a, version));
  }

  /**
   * The lowest version of the package that clears every advisory affecting the installed one (see
   * `securityTargetOf`); `ignored` leaves advisories out (an ignore rule).
   */
  securityTarget(name: string, installedVersion: string, ignored: (advisory: AdvisoryInfo) => boolean = () => false): SecurityTarget {
    return securityTargetOf(this.forPackage(name).filter((a) => !ignored(a.advisory)), installedVersion);
  }
}
