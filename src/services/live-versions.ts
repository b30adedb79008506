import type { EventEmitter } from 'node:events';
import type { ManagerVersion } from '../domain/packages.ts';
import { Limiter } from '../util/limiter.ts';

export interface LiveVersionOptions {
  /** Emits `snapshot` with a processor name whenever that processor's packagesInfo.json changed (the catalog). */
  changes: EventEmitter;
  /** Package-manager processes that reads may run at once, across all processors. */
  maxProcesses: number;
  /** How long an answer is kept while nothing tells of a change (an environment changed by hand tells nothing). */
  ttlMs: number;
  /** How long a failed lookup is remembered, so that a broken environment is not asked again per request. */
  failureTtlMs?: number;
  now?: () => number;
}

interface Entry {
  version: ManagerVersion | undefined;
  at: number;
  failed: boolean;
}

/**
 * The live answer of managerVersion (`pip --version` in the processor's environment), which a read-only user can
 * ask for as often as they like. One lookup at a time per processor (callers arriving meanwhile share it), the
 * answer kept until the processor's environment changes (every operation rewrites packagesInfo.json, and the catalog
 * says so) or the TTL ends, and at most `maxProcesses` lookups running at once on the whole node.
 */
export class LiveVersionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<ManagerVersion | undefined>>();
  /** Bumped on each change of a processor, so that a lookup that began before the change does not store its answer. */
  private readonly generations = new Map<string, number>();
  private readonly limiter: Limiter;
  private readonly now: () => number;

  constructor(private readonly options: LiveVersionOptions) {
    this.limiter = new Limiter(options.maxProcesses);
    this.now = options.now ?? Date.now;
    options.changes.on('snapshot', (name: string) => {
      this.entries.delete(name);
      this.generations.set(name, (this.generations.get(name) ?? 0) + 1);
    });
  }

  /** Lookups running and waiting for a process slot (for tests and metrics). */
  get load(): { active: number; waiting: number } {
    return this.limiter.load;
  }

  /** The kept answer, or one lookup through `ask`; `ask` reports a failure by throwing. */
  get(name: string, ask: () => Promise<ManagerVersion>): Promise<ManagerVersion | undefined> {
    const hit = this.entries.get(name);
    const now = this.now();
    if (hit && now - hit.at < (hit.failed ? this.options.failureTtlMs ?? 30_000 : this.options.ttlMs)) return Promise.resolve(hit.version);
    const pending = this.inflight.get(name);
    if (pending) return pending;
    const generation = this.generations.get(name) ?? 0;
    const lookup = this.limiter.run(ask).then(
      (version) => this.keep(name, generation, { version, at: this.now(), failed: false }),
      () => this.keep(name, generation, { version: undefined, at: this.now(), failed: true }),
    ).finally(() => this.inflight.delete(name));
    this.inflight.set(name, lookup);
    return lookup;
  }

  private keep(name: string, generation: number, entry: Entry): ManagerVersion | undefined {
    if ((this.generations.get(name) ?? 0) === generation) {
      if (this.entries.size >= 10_000) this.entries.clear();
      this.entries.set(name, entry);
    }
    return entry.version;
  }
}
