import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProcessorCatalog } from '../catalog/catalog.ts';
import {
  emptyReason, parseBatchRequest, partFor, type Batch, type BatchProgress, type BatchResult, type InstalledPackage, type SecurityFix,
} from '../domain/batches.ts';
import { InvalidInputError, NotFoundError, ProcenvError, WrongNodeError } from '../domain/errors.ts';
import { packageKey } from '../domain/generations.ts';
import { holdKey } from '../domain/holds.ts';
import { OPERATION_STATUSES, isFinal, type Operation, type OperationStatus } from '../domain/operation.ts';
import { isOutdated, mergePackages } from '../domain/packages.ts';
import { managerKindOf, type ManagerKind, type Processor } from '../domain/processor.ts';
import { formatUpdateCommand, type UpdateCommand } from '../domain/update-command.ts';
import type { Caller } from '../domain/user.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { ManagerRegistry } from '../managers/types.ts';
import type { Store } from '../store/types.ts';
import { MAX_COMMANDS, type EnvironmentService, type UpdateRequest } from './environments.ts';
import type { GenerationService } from './generations.ts';

/** The security updates of a processor, from the vulnerability audit (services/audit.ts). */
export interface SecurityAdvisor {
  /** Whether an advisory database is configured (a security batch needs one). */
  readonly configured: boolean;
  /** Each installed package with advisories, and the lowest version that clears them all (none when no version does). */
  securityFixes(processorName: string): Promise<SecurityFix[]>;
}


export interface BatchServiceOptions {
  store: Store;
  lifecycle: Pick<Lifecycle, 'cancelQueued'>;
  environments: Pick<EnvironmentService, 'processorForRead' | 'processorForWrite' | 'requestUpdate' | 'resolveSchedule'>;
  catalog: Pick<ProcessorCatalog, 'readPackagesInfo' | 'folderOf'>;
  managers: ManagerRegistry;
  generations: Pick<GenerationService, 'firstSeen'>;
  isMainNode: boolean;
  log: Logger;
  advisor?: SecurityAdvisor;
  dryRunTimeoutMs: number;
}

export interface BatchView extends Batch {
  progress: BatchProgress;
  /** Each queued processor's operations as they stand now, with each compute node's delivery on the main node. */
  operations: {
    processor: string; operationId: string; status: OperationStatus; error?: Operation['error'];
    /** A scheduled operation's planned start (ms since the epoch) and window: the panel shows when it will run. */
    notBefore?: number; window?: string;
    nodes?: { nodeCode: string; state: string }[];
  }[];
}

/**
 * Batches (the fleet issue): one action on many processors. The processors the caller cannot change are listed as
 * refused, never dropped; each of the others gets its own operation through the ordinary queue (holds, index
 * checks and one change at a time per processor all apply), or says why it got none.
 */
export class BatchService {
  constructor(private readonly o: BatchServiceOptions) {}

  async create(caller: Caller, body: unknown): Promise<BatchView> {
    if (!this.o.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'batches are made on the main node, which sends each change on to the compute nodes');
    const request = parseBatchRequest(body);
    if (request.action === 'security' && !this.o.advisor?.configured) {
      throw new InvalidInputError('NO_ADVISORY_DATABASE', 'a security batch needs the advisory database (config key advisories, PROCENV_ADVISORIES)');
    }
    // An unknown window, or one that never opens, is refused before any operation is queued; each operation then
    // draws its own moment within the delay window.
    if (request.schedule) await this.o.environments.resolveSchedule(request.schedule);

    const batchId = randomUUID();
    const results: BatchResult[] = [];
    for (const target of await this.targets(caller, request.processors)) {
      if (!('writable' in target)) {
        results.push(target);
        continue;
      }
      try {
        results.push(await this.part(caller, batchId, target.processor, request.action, request));
      } catch (err) {
        if (!(err instanceof ProcenvError)) throw err;
        results.push({ processor: target.processor.name, refused: { code: err.code, message: err.message } });
      }
    }
    const batch: Batch = {
      batchId, userId: caller.userId, createdAt: Date.now(), action: request.action, processors: request.processors,
      packages: request.packages, removeDependencies: request.removeDependencies, results,
      ...(request.schedule ? { schedule: request.schedule } : {}),
    };
    await this.o.store.saveBatch(batch);
    this.o.log.info({ batchId, action: batch.action, processors: results.length, queued: results.filter((r) => r.operationId).length }, 'batch queued');
    return this.view(batch);
  }

  async get(caller: Caller, batchId: string): Promise<BatchView> {
    return this.view(await this.own(caller, batchId));
  }

  /** The caller's batches (an admin's: everyone's), newest first. */
  async list(caller: Caller, page: { limit: number; offset: number }): Promise<BatchView[]> {
    const batches = await this.o.store.listBatches({ ...(caller.admin ? {} : { userId: caller.userId }), ...page });
    return Promise.all(batches.map((b) => this.view(b)));
  }

  /** Cancels the batch's operations that have not started; those running or ended are left as they are. */
  async cancel(caller: Caller, batchId: string): Promise<BatchView> {
    const batch = await this.own(caller, batchId);
    for (const id of operationIdsOf(batch)) {
      const op = await this.o.store.findOperation(id);
      if (op?.status === 'CREATED') await this.o.lifecycle.cancelQueued(op, caller.userId);
    }
    const cancelled: Batch = { ...batch, cancelledAt: batch.cancelledAt ?? Date.now(), cancelledBy: batch.cancelledBy ?? caller.userId };
    await this.o.store.saveBatch(cancelled);
    return this.view(cancelled);
  }

  /** A batch its creator or an admin asks for; anyone else is told there is none, as for an unknown id. */
  private async own(caller: Caller, batchId: string): Promise<Batch> {
    const batch = batchId.length <= 100 ? await this.o.store.findBatch(batchId) : undefined;
    if (!batch || (!caller.admin && batch.userId !== caller.userId)) throw new NotFoundError('BATCH_NOT_FOUND', `no batch "${batchId.slice(0, 80)}"`);
    return batch;
  }

  /**
   * The processors a batch reaches: "all" is every processor the caller can read, those it cannot write listed as
   * refused; named ones the caller cannot read are refused as unknown (their existence is not told).
   */
  private async targets(caller: Caller, processors: string[] | 'all'): Promise<({ processor: Processor; writable: true } | BatchResult)[]> {
    const names = processors === 'all' ? (await this.o.store.listProcessors()).map((p) => p.name).sort() : processors;
    const out: ({ processor: Processor; writable: true } | BatchResult)[] = [];
    for (const name of names) {
      let processor: Processor;
      try {
        processor = await this.o.environments.processorForRead(caller, name);
      } catch (err) {
        if (!(err instanceof ProcenvError)) throw err;
        if (processors !== 'all') out.push({ processor: name, refused: { code: 'PROCESSOR_NOT_FOUND', message: `no processor "${name.slice(0, 80)}" that you can read` } });
        continue;
      }
      try {
        await this.o.environments.processorForWrite(caller, processor);
      } catch (err) {
        if (!(err instanceof ProcenvError)) throw err;
        out.push({ processor: name, refused: { code: err.code, message: err.message } });
        continue;
      }
      out.push({ processor, writable: true });
    }
    return out;
  }

  /** One processor's part: its commands worked out from its packages, holds and advisories, queued as operations. */
  private async part(caller: Caller, batchId: string, processor: Processor, action: Batch['action'],
    request: { packages: Batch['packages']; removeDependencies: boolean; schedule?: Batch['schedule'] }): Promise<BatchResult> {
    const kind = managerKindOf(processor.type);
    if (!kind) return { processor: processor.name, skipped: `processor type "${processor.type}" has no package manager` };
    const installed = this.installed(processor.name, kind);
    const heldKeys = new Set((await this.o.store.listHolds(processor.name)).map((h) => h.key));
    const fixes = action === 'security' ? await this.o.advisor!.securityFixes(processor.name) : [];
    const part = partFor(action, kind, installed, heldKeys, request.packages, fixes);
    const result: BatchResult = { processor: processor.name };
    if (part.held.length) result.held = part.held;
    if (part.notInstalled.length) result.notInstalled = part.notInstalled;
    if (part.unfixable.length) result.unfixable = part.unfixable;
    if (part.commands.length === 0) return { ...result, skipped: emptyReason(action, part) };

    if (request.removeDependencies && kind === 'pip') {
      const orphans = (await this.orphans(processor, kind, part.commands)).filter((name) => !heldKeys.has(holdKey(kind, name)));
      if (orphans.length) {
        result.orphans = orphans;
        for (const name of orphans) part.commands.push({ action: 'removePackage', name });
      }
    }

    // One operation per processor; a part longer than an operation takes is queued as several, in order.
    const ids: string[] = [];
    for (let i = 0; i < part.commands.length; i += MAX_COMMANDS) {
      const chunk = part.commands.slice(i, i + MAX_COMMANDS);
      const update: UpdateRequest = { processorId: processor.processorId, workspace: '-', updateCommands: chunk.map(formatUpdateCommand), batchId, ...(request.schedule ? { schedule: request.schedule } : {}) };
      const { operation } = await this.o.environments.requestUpdate(caller, update);
      ids.push(operation.processObjId);
    }
    result.operationId = ids[0]!;
    if (ids.length > 1) result.operationIds = ids;
    result.commands = part.commands.map(formatUpdateCommand);
    return result;
  }

  /**
   * pip has no autoremove: the dependencies that nothing left would need once `removals` ran, from the installed
   * distributions' own requirements (the pip manager's dry run), never a package that was asked for itself.
   */
  private async orphans(processor: Processor, kind: ManagerKind, removals: UpdateCommand[]): Promise<string[]> {
    const manager = this.o.managers[kind];
    if (!manager?.dryRun) return [];
    await this.o.generations.firstSeen(processor.name);
    const latest = await this.o.store.findLatestGeneration(processor.name);
    const generation = latest && (await this.o.store.findGeneration(processor.name, latest.number));
    if (!generation) return [];
    const dry = await manager.dryRun({ processor, folder: this.o.catalog.folderOf(processor.name) }, removals, generation.packages, { timeoutMs: this.o.dryRunTimeoutMs });
    return dry.orphaned.map((p) => p.name);
  }

  /** The installed packages by key, from packagesInfo.json, with the newer version of each outdated one. */
  private installed(name: string, kind: ManagerKind): Map<string, InstalledPackage> {
    const info = this.o.catalog.readPackagesInfo(name);
    const out = new Map<string, InstalledPackage>();
    for (const p of info ? mergePackages(info) : []) {
      if (typeof p.packageName !== 'string' || p.packageName === '' || !p.currentVersion) continue;
      const key = packageKey(kind, p.packageName);
      if (out.has(key)) continue;
      out.set(key, { name: p.packageName, version: p.currentVersion, ...(isOutdated(p) ? { latest: p.latestVersion! } : {}) });
    }
    return out;
  }

  private async view(batch: Batch): Promise<BatchView> {
    const byStatus = Object.fromEntries(OPERATION_STATUSES.map((s) => [s, 0])) as Record<OperationStatus, number>;
    const operations: BatchView['operations'] = [];
    for (const r of batch.results) {
      for (const id of r.operationIds ?? (r.operationId ? [r.operationId] : [])) {
        const op = await this.o.store.findOperation(id);
        if (!op) continue;
        byStatus[op.status]++;
        const deliveries = this.o.isMainNode ? await this.o.store.listDeliveries({ operationId: id }) : [];
        operations.push({
          processor: r.processor, operationId: id, status: op.status, ...(op.error ? { error: op.error } : {}),
          ...(op.notBefore !== undefined ? { notBefore: op.notBefore } : {}), ...(op.window !== undefined ? { window: op.window } : {}),
          ...(deliveries.length ? { nodes: deliveries.map((d) => ({ nodeCode: d.nodeCode, state: d.state })) } : {}),
        });
      }
    }
    const progress: BatchProgress = {
      total: batch.results.length,
      queued: batch.results.filter((r) => r.operationId).length,
      skipped: batch.results.filter((r) => r.skipped).length,
      refused: batch.results.filter((r) => r.refused).length,
      byStatus,
      finished: operations.every((o) => isFinal(o.status)),
    };
    return { ...batch, progress, operations };
  }
}

function operationIdsOf(batch: Batch): string[] {
  return batch.results.flatMap((r) => r.operationIds ?? (r.operationId ? [r.operationId] : []));
}
