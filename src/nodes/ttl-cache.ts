/**
 * Answers kept for a while after they arrive, with at most one load in flight per key: any number of requests for
 * a key while it loads, or within the time-to-live after, cost one load. A failed load is not kept (the next
 * request tries again). Entries past their time are dropped as new ones come in.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { settledAt?: number; value: Promise<V> }>();

  constructor(private readonly ttlMs: number) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && (hit.settledAt === undefined || now - hit.settledAt < this.ttlMs)) return hit.value;
    if (this.entries.size > 1000) {
      for (const [k, e] of this.entries) if (e.settledAt !== undefined && now - e.settledAt >= this.ttlMs) this.entries.delete(k);
    }
    const entry: { settledAt?: number; value: Promise<V> } = { value: load() };
    this.entries.set(key, entry);
    entry.value.then(
      () => {
        entry.settledAt = Date.now();
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.value;
  }
}
