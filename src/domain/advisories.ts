import { compare, valid } from '@renovatebot/pep440';

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
  /** ECOSYSTEM ranges, each one's events (those PEP 440 cannot read left out). */
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

/** The events PEP 440 can place (introduced "0", every version, included); `compile` orders them. */
function readableEvents(events: RangeEvent[]): RangeEvent[] {
  return events.filter((e) => (e.kind === 'introduced' && e.version === '0') || pep440(e.version) !== null);
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
      const readable = readableEvents(events);
      if (readable.length > 0) merged.events.push(readable);
    }
  }
  const packages = [...byKey].map(([key, { events, versions }]): PackageAdvisory => ({
    advisory, key, ranges: events, versions,
    fixed: [...new Set(events.flat().filter((e) => e.kind === 'fixed').map((e) => e.version))].sort(compare),
  }));
  return { ok: true, advisory, packages };
}

/**
 * The versions one package's advisories name, put in PEP 440 order once (by the library's `compare`), so that
 * matching compares positions instead of parsing versions again and again: a package with a hundred advisories
 * listing hundreds of versions each is checked in microseconds. Position 2i+1 is the i-th distinct version, 2i a
 * version between the (i-1)-th and the i-th, 2n one above them all; introduced "0" is below everything.
 */
class VersionScale {
  /** One version per distinct PEP 440 value, ascending. */
  private readonly distinct: string[] = [];
  private readonly rankOf = new Map<string, number>();

  constructor(versions: Iterable<string>) {
    const sorted = [...new Set(versions)].filter((v) => pep440(v) !== null).sort(compare);
    for (const v of sorted) {
      if (this.distinct.length === 0 || compare(this.distinct[this.distinct.length - 1]!, v) !== 0) this.distinct.push(v);
      this.rankOf.set(v, this.distinct.length - 1);
    }
  }

  /** Where a version stands; undefined when PEP 440 cannot read it. */
  position(version: string): number | undefined {
    const rank = this.rankOf.get(version);
    if (rank !== undefined) return 2 * rank + 1;
    if (pep440(version) === null) return undefined;
    let lo = 0;
    let hi = this.distinct.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(this.distinct[mid]!, version) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.distinct.length && compare(this.distinct[lo]!, version) === 0 ? 2 * lo + 1 : 2 * lo;
  }
}

const EVERY_VERSION = -1;
interface PlacedEvent { kind: RangeEventKind; position: number }
interface CompiledAdvisory {
  pa: PackageAdvisory;
  /** Each range's events by position, introduced before fixed at one position. */
  ranges: PlacedEvent[][];
  /** Positions of the explicit versions PEP 440 reads. */
  listed: Set<number>;
}

/** One package's advisories with their versions placed on one scale: what matching and the security target run on. */
export class PackageMatcher {
  private readonly scale: VersionScale;
  private readonly compiled: CompiledAdvisory[];

  constructor(readonly advisories: readonly PackageAdvisory[]) {
    this.scale = new VersionScale(advisories.flatMap((pa) => [...pa.ranges.flat().map((e) => e.version), ...pa.versions]));
    const order: Record<RangeEventKind, number> = { introduced: 0, last_affected: 1, fixed: 2 };
    this.compiled = advisories.map((pa) => ({
      pa,
      ranges: pa.ranges.map((events) => events
        .map((e) => ({ kind: e.kind, position: e.kind === 'introduced' && e.version === '0' ? EVERY_VERSION : this.scale.position(e.version)! }))
        .sort((a, b) => a.position - b.position || order[a.kind] - order[b.kind])),
      listed: new Set([...pa.versions].map((v) => this.scale.position(v)).filter((p): p is number => p !== undefined)),
    }));
  }

  /** The advisories (of those given, or all) that affect this version. */
  affecting(version: string, among: (pa: PackageAdvisory) => boolean = () => true): PackageAdvisory[] {
    const position = this.scale.position(version);
    return this.compiled.filter((c) => among(c.pa) && hits(c, version, position)).map((c) => c.pa);
  }

  /**
   * The security target of an installed version: the advisories that affect it, and the lowest version among the
   * advisories' fixed versions above it that none of them affects. `counted` leaves advisories out (ignored ones).
   * No version when the installed one is not PEP 440 (what is "above" it is unknown) or when every fixed version is
   * still affected by some advisory.
   */
  securityTarget(installedVersion: string, counted: (pa: PackageAdvisory) => boolean = () => true): SecurityTarget {
    const active = this.compiled.filter((c) => counted(c.pa));
    const installedAt = this.scale.position(installedVersion);
    const ids = [...new Set(active.filter((c) => hits(c, installedVersion, installedAt)).map((c) => c.pa.advisory.id))].sort();
    if (ids.length === 0 || installedAt === undefined) return { advisories: ids };
    const candidates = new Map<number, string>();
    for (const c of active) {
      for (const fixed of c.pa.fixed) {
        const at = this.scale.position(fixed)!;
        if (at > installedAt && !candidates.has(at)) candidates.set(at, fixed);
      }
    }
    for (const [at, version] of [...candidates].sort((a, b) => a[0] - b[0])) {
      if (!active.some((c) => hits(c, version, at))) return { advisories: ids, version };
    }
    return { advisories: ids };
  }
}

/**
 * OSV's evaluation: an explicit `versions` entry (the very string, or an equal PEP 440 version), or an ECOSYSTEM
 * range walked in order, each introduced opening and each fixed (at or below the version) or last_affected (below
 * it) closing. A version PEP 440 cannot read (`position` undefined) matches only an explicit entry, exactly.
 */
function hits(c: CompiledAdvisory, version: string, position: number | undefined): boolean {
  if (c.pa.versions.has(version)) return true;
  if (position === undefined) return false;
  if (c.listed.has(position)) return true;
  return c.ranges.some((events) => {
    let affected = false;
    for (const e of events) {
      if (e.kind === 'introduced') {
        if (e.position <= position) affected = true;
      } else if (e.kind === 'fixed') {
        if (e.position <= position) affected = false;
      } else if (e.position < position) {
        affected = false;
      }
    }
    return affected;
  });
}

/** Whether the advisory affects this version of its package (see `hits`). */
export function affects(pa: PackageAdvisory, version: string): boolean {
  return new PackageMatcher([pa]).affecting(version).length > 0;
}

export interface SecurityTarget {
  /** Ids of the advisories that affect the installed version. */
  advisories: string[];
  /** The lowest version that clears them all and that no other advisory affects; absent when none is known. */
  version?: string;
}

/** The security target of an installed version given every advisory on its package that counts (see PackageMatcher). */
export function securityTargetOf(advisories: readonly PackageAdvisory[], installedVersion: string): SecurityTarget {
  return new PackageMatcher(advisories).securityTarget(installedVersion);
}

/** A file of the database that was not taken, and why (its name as the database has it, shortened). */
export interface SkippedFile { file: string; reason: string }

/**
 * A loaded advisory database: every PyPI advisory, indexed by package key so that an audit looks up each installed
 * package instead of scanning the advisories. Immutable once built; a reload builds a new one.
 */
export class AdvisoryDatabase {
  private readonly byKey = new Map<string, PackageAdvisory[]>();
  /** Made on a package's first look-up, and again after an advisory on it is added. */
  private readonly matchers = new Map<string, PackageMatcher>();
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
      this.matchers.delete(pa.key);
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

  /** The package's advisories ready for matching, or undefined when it has none. */
  matcher(name: string): PackageMatcher | undefined {
    const key = advisoryKey(name);
    const list = this.byKey.get(key);
    if (!list) return undefined;
    let matcher = this.matchers.get(key);
    if (!matcher) this.matchers.set(key, matcher = new PackageMatcher(list));
    return matcher;
  }

  /** The advisories that affect this version of the package. */
  affecting(name: string, version: string): PackageAdvisory[] {
    return this.matcher(name)?.affecting(version) ?? [];
  }

  /**
   * The lowest version of the package that clears every advisory affecting the installed one (see
   * `PackageMatcher.securityTarget`); `ignored` leaves advisories out (an ignore rule).
   */
  securityTarget(name: string, installedVersion: string, ignored: (advisory: AdvisoryInfo) => boolean = () => false): SecurityTarget {
    return this.matcher(name)?.securityTarget(installedVersion, (pa) => !ignored(pa.advisory)) ?? { advisories: [] };
  }
}
