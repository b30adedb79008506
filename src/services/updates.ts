import type { OperationError } from '../domain/operation.ts';
import { InvalidInputError, ProcenvError, WrongNodeError } from '../domain/errors.ts';
import { MAX_BATCH_PROCESSORS, type SecurityFix } from '../domain/batches.ts';
import { packageKey } from '../domain/generations.ts';
import type { ManagerKind, Processor } from '../domain/processor.ts';
import type { Caller } from '../domain/user.ts';
import type { ProcessorEntry } from '../fleet/package-index.ts';
import type { SecurityAdvisor } from './batches.ts';
import type { EnvironmentService } from './environments.ts';
import type { InventoryService } from './inventory.ts';

export interface UpdateRow {
  package: string;
  current: string;
  /** The newest version known (from the last check), or the version that clears the advisories when none is known. */
  available: string;
  type: 'security' | 'regular';
  /** security: the advisories the update clears, and the lowest version that clears them all. */
  advisories?: string[];
  fixedVersion?: string;
}

export interface ProcessorUpdates {
  processor: string;
  type: string;
  manager: ManagerKind;
  /** When packagesInfo.json was last written, ISO 8601: the last check of newer versions. */
  checkedAt?: string;
  counts: { security: number; regular: number };
  updates: UpdateRow[];
}

export type CheckResult = { processor: string; operationId: string } | { processor: string; refused: OperationError };

/**
 * The updates available per processor (the fleet API's `updates`): each outdated package, marked `security` when
 * the audit knows advisories that a newer version clears. Read from the package index and the advisory database,
 * never from the environments; `POST /updates/check` queues the refreshes that bring newer versions in.
 */
export class UpdatesService {
  constructor(private readonly o: {
    inventory: Pick<InventoryService, 'index' | 'readable'>;
    environments: Pick<EnvironmentService, 'processorForRead' | 'processorForWrite' | 'requestUpdate'>;
    listProcessors: () => Promise<Processor[]>;
    advisor?: SecurityAdvisor;
    isMainNode: boolean;
  }) {}

  /** Every processor the caller can read that has updates (`all`: those without too), by name. */
  async list(caller: Caller, options: { all?: boolean; securityOnly?: boolean } = {}): Promise<ProcessorUpdates[]> {
    await this.o.inventory.index.refresh();
    const readable = await this.o.inventory.readable(caller);
    const out: ProcessorUpdates[] = [];
    for (const p of this.o.inventory.index.processors().filter(readable).sort(byName)) {
      const u = await this.of(p.name);
      if (!u) continue;
      if (options.securityOnly && u.counts.security === 0) continue;
      if (!options.all && u.updates.length === 0) continue;
      out.push(u);
    }
    return out;
  }

  async forProcessor(caller: Caller, name: string): Promise<ProcessorUpdates> {
    const processor = await this.o.environments.processorForRead(caller, name);
    await this.o.inventory.index.refresh();
    const u = await this.of(processor.name);
    if (!u) throw new InvalidInputError('NO_PACKAGE_MANAGER', `processor type "${processor.type}" has no package manager`);
    return u;
  }

  /** Queues a refresh of each processor named (every one the caller can write when none is); the others are refused. */
  async check(caller: Caller, body: unknown): Promise<{ results: CheckResult[] }> {
    if (!this.o.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'checks are queued on the main node, which sends them on to the compute nodes');
    const named = processorsOf(body);
    const names = named ?? (await this.o.listProcessors()).map((p) => p.name).sort();
    const results: CheckResult[] = [];
    for (const name of names) {
      try {
        const processor = await this.o.environments.processorForRead(caller, name);
        await this.o.environments.processorForWrite(caller, processor);
        const { operation } = await this.o.environments.requestUpdate(caller, { processorId: processor.processorId, workspace: '-', updateCommands: [] });
        results.push({ processor: name, operationId: operation.processObjId });
      } catch (err) {
        if (!(err instanceof ProcenvError)) throw err;
        // Not named: a processor the caller cannot change is left out; named: it is listed with the reason.
        if (named) results.push({ processor: name, refused: { code: err.code, message: err.message } });
      }
    }
    return { results };
  }

  private async of(name: string): Promise<ProcessorUpdates | undefined> {
    const entry = this.o.inventory.index.entry(name);
    if (!entry) return undefined;
    const fixes = new Map<string, SecurityFix>();
    if (this.o.advisor?.configured) for (const f of await this.o.advisor.securityFixes(name)) fixes.set(packageKey(entry.manager, f.package), f);
    return updatesOf(entry, fixes);
  }
}

/** A processor's updates from its indexed packages and its security fixes (keyed by package key). */
export function updatesOf(entry: Readonly<ProcessorEntry>, fixes: ReadonlyMap<string, SecurityFix>): ProcessorUpdates {
  const updates: UpdateRow[] = [];
  for (const [key, p] of [...entry.packages].sort(([a], [b]) => byName({ name: a }, { name: b }))) {
    const fix = fixes.get(key);
    if (fix?.fixedVersion !== undefined) {
      updates.push({ package: p.name, current: p.version, available: p.latest ?? fix.fixedVersion, type: 'security', advisories: fix.advisories ?? [], fixedVersion: fix.fixedVersion });
    } else if (p.latest !== undefined) {
      updates.push({ package: p.name, current: p.version, available: p.latest, type: 'regular' });
    }
  }
  const security = updates.filter((u) => u.type === 'security').length;
  return {
    processor: entry.processor.name, type: entry.processor.type, manager: entry.manager,
    ...(entry.checkedAt !== undefined ? { checkedAt: new Date(entry.checkedAt).toISOString() } : {}),
    counts: { security, regular: updates.length - security }, updates,
  };
}

function processorsOf(body: unknown): string[] | undefined {
  if (body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && (body as { processors?: unknown }).processors === undefined)) {
    if (body !== undefined && body !== null && Object.keys(body as object).length > 0) {
      throw new InvalidInputError('INVALID_BODY', `unknown field: ${JSON.stringify(Object.keys(body as object)[0]!.slice(0, 40))}; give { "processors"?: [names] }`);
    }
    return undefined;
  }
  const b = body as { processors?: unknown };
  if (typeof body !== 'object' || Array.isArray(body) || Object.keys(b).some((k) => k !== 'processors')) {
    throw new InvalidInputError('INVALID_BODY', 'give { "processors"?: [names] } (none: every processor you can change)');
  }
  const list = b.processors;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH_PROCESSORS || !list.every((p) => typeof p === 'string' && p !== '' && p.length <= 200)) {
    throw new InvalidInputError('INVALID_PROCESSORS', `"processors" must be a list of 1 to ${MAX_BATCH_PROCESSORS} processor names`);
  }
  return [...new Set(list as string[])].sort();
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
