import { packageKey } from '../domain/generations.ts';
import { isOutdated, mergePackages, type PackagesInfo } from '../domain/packages.ts';
import { managerKindOf, type ManagerKind, type Processor } from '../domain/processor.ts';

/** One package of one processor as its packagesInfo.json has it. */
export interface IndexedPackage {
  name: string;
  version: string;
  /** The newer version the snapshot names, for an outdated package only; absent when up to date or unknown. */
  latest?: string;
}

interface ProcessorEntry {
  processor: Processor;
  manager: ManagerKind;
  /** By package key. */
  packages: Map<string, IndexedPackage>;
}

/** One package name of one manager across processors: the row of a search. */
interface PackageRow {
  /** `<manager>:<key>` */
  id: string;
  manager: ManagerKind;
  key: string;
  /** The key lowercased: what `q` is matched against. */
  lower: string;
  /** As the first processor that has it spells it. */
  name: string;
  on: Map<string, IndexedPackage>;
  /** `on` in processor-name order with each processor's entry, made when first needed after a change. */
  sorted?: { processor: string; pkg: IndexedPackage; entry: ProcessorEntry }[];
}

export interface SearchFilters {
  q?: string;
  manager?: ManagerKind;
  type?: string;
  /** true: only packages with a newer version somewhere; false: only those up to date everywhere. */
  upgradable?: boolean;
  /** true: only packages held somewhere; false: only those held nowhere. */
  held?: boolean;
}

/** The held packages: processor name → package keys. */
export type HeldKeys = ReadonlyMap<string, ReadonlySet<string>>;

export interface SearchRow {
  name: string;
  manager: ManagerKind;
  /** Where it is installed, by processor name, with the version there. */
  installed: { processor: string; version: string }[];
  /** Where a newer version is known, with that version. */
  upgradable: { processor: string; version: string; latest: string }[];
  /** Where it is held. */
  held: { processor: string }[];
}

export interface SummaryRow {
  manager: ManagerKind;
  type: string;
  processors: number;
  totalPackages: number;
  uniquePackages: number;
  outdatedPackages: number;
  heldPackages: number;
}

/** Where the index takes processors and their package lists from. */
export interface IndexSource {
  processors(): Promise<Processor[]>;
  processor(name: string): Promise<Processor | undefined>;
  packagesInfo(name: string): PackagesInfo | undefined;
}

/** Whether the caller may see a processor (read permission). */
export type Readable = (processor: Processor) => boolean;

/** `latest` is kept only for a package the snapshot says is outdated (domain/packages.ts `isOutdated`). */
function hasNewer(p: IndexedPackage): p is IndexedPackage & { latest: string } {
  return p.latest !== undefined;
}

/**
 * The packages of every processor on this node, by package name: kept in memory, built once from the snapshots,
 * and updated processor by processor when a snapshot changes (the catalog's `snapshot` and `processor` events mark
 * it; the next read takes it in). A search reads the index, never the snapshots.
 */
export class PackageIndex {
  private readonly entries = new Map<string, ProcessorEntry>();
  private readonly rows = new Map<string, PackageRow>();
  /** The rows in name order, made again after a change. */
  private ordered?: PackageRow[];
  private readonly dirty = new Set<string>();
  private built = false;
  private building?: Promise<void>;

  constructor(private readonly source: IndexSource) {}

  /** A processor's snapshot or registration changed: it is read again before the next answer. */
  changed(name: string): void {
    this.dirty.add(name);
  }

  /** Every processor read now (the first read), then only those marked since. */
  async refresh(): Promise<void> {
    if (!this.built) {
      this.building ??= (async () => {
        for (const p of await this.source.processors()) this.dirty.add(p.name);
        this.built = true;
      })().finally(() => {
        this.building = undefined;
      });
      await this.building;
    }
    if (this.dirty.size === 0) return;
    const names = [...this.dirty];
    this.dirty.clear();
    for (const name of names) this.take(name, await this.source.processor(name));
    this.ordered = undefined;
  }

  private take(name: string, processor: Processor | undefined): void {
    this.drop(name);
    const manager = processor && managerKindOf(processor.type);
    if (!processor || !manager) return;
    let info: PackagesInfo | undefined;
    try {
      info = this.source.packagesInfo(name);
    } catch {
      info = undefined; // an unreadable snapshot lists nothing, as listPackages would refuse it
    }
    const packages = new Map<string, IndexedPackage>();
    for (const p of info ? mergePackages(info) : []) {
      if (typeof p.packageName !== 'string' || p.packageName === '') continue;
      const key = packageKey(manager, p.packageName);
      if (packages.has(key)) continue;
      const entry: IndexedPackage = { name: p.packageName, version: p.currentVersion ?? '' };
      if (isOutdated(p)) entry.latest = p.latestVersion!;
      packages.set(key, entry);
    }
    this.entries.set(name, { processor, manager, packages });
    for (const [key, pkg] of packages) {
      const id = `${manager}:${key}`;
      let row = this.rows.get(id);
      if (!row) {
        row = { id, manager, key, lower: key.toLowerCase(), name: pkg.name, on: new Map() };
        this.rows.set(id, row);
      }
      row.on.set(name, pkg);
      row.sorted = undefined;
    }
  }

  private drop(name: string): void {
    const old = this.entries.get(name);
    if (!old) return;
    this.entries.delete(name);
    for (const key of old.packages.keys()) {
      const id = `${old.manager}:${key}`;
      const row = this.rows.get(id);
      if (!row) continue;
      row.on.delete(name);
      row.sorted = undefined;
      if (row.on.size === 0) this.rows.delete(id);
    }
  }

  private inOrder(): PackageRow[] {
    this.ordered ??= [...this.rows.values()].sort((a, b) => (a.lower < b.lower ? -1 : a.lower > b.lower ? 1 : a.manager < b.manager ? -1 : 1));
    return this.ordered;
  }

  /**
   * The rows that match, exact names first then in name order, each with the processors the caller can read (a row
   * with none is not there). `q` matches the name case-insensitively as a substring; pip names are compared as PEP 503
   * normalises them, so `py_yaml` finds `PyYAML`. With `max`, it stops once it has that many rows.
   */
  matches(filters: SearchFilters, readable: Readable, max = Infinity, held: HeldKeys = new Map()): SearchRow[] {
    const q = filters.q?.trim().toLowerCase() ?? '';
    const needleOf = (manager: ManagerKind) => (manager === 'pip' ? q.replace(/[-_.]+/g, '-') : q);
    const out: SearchRow[] = [];
    // An exact name is looked up, not searched for: it comes first, and the walk below passes over it.
    const exact = new Set<PackageRow>();
    if (q !== '') {
      for (const manager of ['conda', 'pip'] as const) {
        const row = this.rows.get(`${manager}:${needleOf(manager)}`);
        if (row && (!filters.manager || row.manager === filters.manager)) exact.add(row);
      }
    }
    for (const row of exact) {
      const shown = this.rowFor(row, filters, readable, held);
      if (shown) out.push(shown);
    }
    for (const row of this.inOrder()) {
      if (out.length >= max) break;
      if (exact.has(row) || (filters.manager && row.manager !== filters.manager)) continue;
      const needle = needleOf(row.manager);
      if (needle !== '' && !row.lower.includes(needle)) continue;
      const shown = this.rowFor(row, filters, readable, held);
      if (shown) out.push(shown);
    }
    return out.length > max ? out.slice(0, max) : out;
  }

  /** A row as the caller sees it (with the processors it can read, of the type asked for), or undefined when none. */
  private rowFor(row: PackageRow, filters: SearchFilters, readable: Readable, heldKeys: HeldKeys): SearchRow | undefined {
    const installed: SearchRow['installed'] = [];
    const upgradable: SearchRow['upgradable'] = [];
    const held: SearchRow['held'] = [];
    row.sorted ??= [...row.on].map(([processor, pkg]) => ({ processor, pkg, entry: this.entries.get(processor)! })).sort(byProcessor);
    for (const { processor: processorName, pkg, entry } of row.sorted) {
      if (filters.type !== undefined && entry.processor.type !== filters.type) continue;
      if (!readable(entry.processor)) continue;
      installed.push({ processor: processorName, version: pkg.version });
      if (hasNewer(pkg)) upgradable.push({ processor: processorName, version: pkg.version, latest: pkg.latest });
      if (heldKeys.get(processorName)?.has(row.key)) held.push({ processor: processorName });
    }
    if (installed.length === 0) return undefined;
    if (filters.upgradable === true && upgradable.length === 0) return undefined;
    if (filters.upgradable === false && upgradable.length > 0) return undefined;
    if (filters.held === true && held.length === 0) return undefined;
    if (filters.held === false && held.length > 0) return undefined;
    return { name: row.name, manager: row.manager, installed, upgradable, held };
  }

  /** Per manager and processor type: processors, packages in all, distinct packages, outdated packages. */
  summary(readable: Readable, heldKeys: HeldKeys = new Map()): SummaryRow[] {
    const groups = new Map<string, SummaryRow & { names: Set<string> }>();
    for (const entry of this.entries.values()) {
      if (!readable(entry.processor)) continue;
      const id = `${entry.manager}\u0000${entry.processor.type}`;
      let g = groups.get(id);
      if (!g) {
        g = { manager: entry.manager, type: entry.processor.type, processors: 0, totalPackages: 0, uniquePackages: 0, outdatedPackages: 0, heldPackages: 0, names: new Set() };
        groups.set(id, g);
      }
      g.processors++;
      g.totalPackages += entry.packages.size;
      for (const [key, pkg] of entry.packages) {
        g.names.add(key);
        if (hasNewer(pkg)) g.outdatedPackages++;
        if (heldKeys.get(entry.processor.name)?.has(key)) g.heldPackages++;
      }
    }
    return [...groups.values()]
      .map(({ names, ...row }) => ({ ...row, uniquePackages: names.size }))
      .sort((a, b) => (a.manager === b.manager ? (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) : a.manager < b.manager ? -1 : 1));
  }

  /** One processor's packages as indexed now (by package key), or undefined when it has none indexed. */
  packagesOf(name: string): { processor: Processor; manager: ManagerKind; packages: ReadonlyMap<string, IndexedPackage> } | undefined {
    const entry = this.entries.get(name);
    return entry && { processor: entry.processor, manager: entry.manager, packages: entry.packages };
  }

  /** The processors indexed now (for the readable check of a caller). */
  processors(): Processor[] {
    return [...this.entries.values()].map((e) => e.processor);
  }
}

function byProcessor(a: { processor: string }, b: { processor: string }): number {
  return a.processor < b.processor ? -1 : a.processor > b.processor ? 1 : 0;
}
