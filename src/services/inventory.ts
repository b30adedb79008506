import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { InvalidInputError } from '../domain/errors.ts';
import { canAccess } from '../domain/permissions.ts';
import type { ManagerKind, Processor } from '../domain/processor.ts';
import type { Caller } from '../domain/user.ts';
import { PackageIndex, type HeldKeys, type Readable, type SearchFilters, type SearchRow, type SummaryRow } from '../fleet/package-index.ts';
import type { Store } from '../store/types.ts';

/** How long what a caller may read is reused between searches. */
const READABLE_CACHE_MS = 2000;

export interface SearchCount {
  total: number;
  byManager: Partial<Record<ManagerKind, number>>;
  byType: Record<string, number>;
}

/**
 * The packages across every processor of this node (the fleet issue's inventory): a summary per manager and processor
 * type, a search by package name with where each one is installed, upgradable and at which versions, and its count.
 * Answers come from the in-memory PackageIndex; every answer counts only the processors the caller can read.
 */
export class InventoryService {
  readonly index: PackageIndex;
  private readonly readableCache = new Map<string, { at: number; names: Set<string> }>();

  constructor(private readonly o: { store: Store; catalog: Pick<ProcessorCatalog, 'readPackagesInfo' | 'packagesInfoModifiedAt' | 'on'> }) {
    this.index = new PackageIndex({
      processors: () => o.store.listProcessors(),
      processor: (name) => o.store.findProcessorByName(name),
      packagesInfo: (name) => o.catalog.readPackagesInfo(name),
      modifiedAt: (name) => o.catalog.packagesInfoModifiedAt(name),
    });
    const changed = (name: string) => this.index.changed(name);
    o.catalog.on('snapshot', changed);
    o.catalog.on('processor', (name: string) => {
      this.readableCache.clear();
      changed(name);
    });
  }

  async summary(caller: Caller): Promise<SummaryRow[]> {
    await this.index.refresh();
    return this.index.summary(await this.readable(caller), await this.held());
  }

  async search(caller: Caller, filters: SearchFilters, page: { limit: number; offset: number }): Promise<SearchRow[]> {
    checkQuery(filters);
    await this.index.refresh();
    return this.index.matches(filters, await this.readable(caller), page.offset + page.limit, await this.held()).slice(page.offset);
  }

  async count(caller: Caller, filters: SearchFilters): Promise<SearchCount> {
    checkQuery(filters);
    await this.index.refresh();
    const rows = this.index.matches(filters, await this.readable(caller), Infinity, await this.held());
    const count: SearchCount = { total: rows.length, byManager: {}, byType: {} };
    const typeOf = new Map(this.index.processors().map((p) => [p.name, p.type]));
    for (const row of rows) {
      count.byManager[row.manager] = (count.byManager[row.manager] ?? 0) + 1;
      for (const type of new Set(row.installed.map((i) => typeOf.get(i.processor)!))) count.byType[type] = (count.byType[type] ?? 0) + 1;
    }
    return count;
  }

  /** The holds of every processor, by processor name (a small table, read per answer so a new hold shows at once). */
  private async held(): Promise<HeldKeys> {
    const held = new Map<string, Set<string>>();
    for (const h of await this.o.store.listHolds()) {
      let keys = held.get(h.processorName);
      if (!keys) held.set(h.processorName, keys = new Set());
      keys.add(h.key);
    }
    return held;
  }

  /**
   * Read permission as listPackages has it (public, owner, shared, admin), for every indexed processor at once: the
   * sharings are asked only of processors neither public nor the caller's, and the set is reused for a moment. The
   * audit asks it too. Call `index.refresh()` first: only indexed processors are counted.
   */
  async readable(caller: Caller): Promise<Readable> {
    if (caller.admin) return () => true;
    const now = Date.now();
    const hit = this.readableCache.get(caller.userId);
    if (hit && now - hit.at < READABLE_CACHE_MS) return (p: Processor) => hit.names.has(p.name);
    const names = new Set<string>();
    for (const p of this.index.processors()) {
      const open = p.isPublic || p.userId === caller.userId;
      if (canAccess(caller, p, open ? undefined : await this.o.store.findSharing(p.processorId, caller.userId))) names.add(p.name);
    }
    if (this.readableCache.size >= 10_000) this.readableCache.clear();
    this.readableCache.set(caller.userId, { at: now, names });
    return (p: Processor) => names.has(p.name);
  }
}

function checkQuery(filters: SearchFilters): void {
  if (filters.q !== undefined && filters.q.length > 200) throw new InvalidInputError('INVALID_PARAMETER', 'query parameter "q" is longer than 200 characters');
}
