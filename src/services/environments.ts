import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { ForbiddenError, InvalidInputError, LoopDetectedError, UnreadableFileError, WrongNodeError } from '../domain/errors.ts';
import type { ClusterHistory } from '../domain/cluster.ts';
import type { Operation } from '../domain/operation.ts';
import type { ManagerVersion } from '../domain/packages.ts';
import { planSchedule, type PlannedSchedule, type ScheduleRequest } from '../domain/schedules.ts';
import { canAccess, canWrite } from '../domain/permissions.ts';
import { managerKindOf, type ManagerKind, type Processor } from '../domain/processor.ts';
import { formatUpdateCommand, parseUpdateCommand, type UpdateCommand } from '../domain/update-command.ts';
import type { Caller } from '../domain/user.ts';
import type { ManagerRegistry } from '../managers/types.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { Store } from '../store/types.ts';
import { CachedAnswer } from '../util/cached-answer.ts';
import { LiveVersionCache } from './live-versions.ts';

/** listPackages of a processor without packagesInfo.json (WASDI answers an empty list). */
const NO_PACKAGES = CachedAnswer.of('[]');
/** How long a processor's record is read from memory before the store is asked again (a permission change shows within it). */
const PROCESSOR_CACHE_MS = 1_000;

/** A batch larger than this is refused (one operation holds the processor's queue for its whole length). */
export const MAX_COMMANDS = 50;

/** How many of a processor's operations the main node looks through to name the writers of history lines. */
const HISTORY_ORIGIN_SCAN = 5_000;

export type InsertResult = { operation: Operation; created: boolean };

export interface UpdateRequest {
  processorId: string;
  workspace: string;
  /** Raw updateCommands; an empty list (or only empty strings) is a refresh. */
  updateCommands: string[];
  idempotencyKey?: string;
  /** Compute node: a catch-up operation (set by the sync service). */
  sync?: Operation['sync'];
  /** Exact pins (a restore), a generation the environment must still be (a plan), a rollback when a command fails. */
  exact?: boolean;
  expect?: Operation['expect'];
  planId?: string;
  restoreOf?: number;
  rollbackOnFailure?: boolean;
  /** Main node: the batch this operation is part of (POST /batches). */
  batchId?: string;
  /**
   * When it may start: not before `deliverAfter` (+ a random delay of up to `deliverDelayWindowMinutes`), and only
   * while the maintenance window `window` is open. Build it from a request's fields with `parseSchedule`
   * (domain/schedules.ts), which answers 400 for bad input; an unknown window is a 400 WINDOW_NOT_FOUND here.
   */
  schedule?: ScheduleRequest;
}

/**
 * The use cases behind WASDI's five /packageManager endpoints (reference §1), with WASDI's checks in WASDI's
 * order so that each failure answers the status WASDI answers.
 */
export class EnvironmentService {
  private readonly store: Store;
  private readonly lifecycle: Lifecycle;
  private readonly catalog: ProcessorCatalog;
  private readonly managers: ManagerRegistry;
  private readonly log: Logger;
  readonly nodeCode: string;
  readonly isMainNode: boolean;
  /** Refuses commands that would move a held package (HoldService.check); set once the hold service exists. */
  holdCheck?: (processor: Processor, commands: readonly UpdateCommand[]) => Promise<void>;
  private readonly processorCache = new Map<string, { processor: Processor; at: number }>();
  /**
   * Compute node: admits a delivered change (the main node's operation `originId`). The sync service answers the
   * catch-up operation that already applies that change, or runs `insert` while no catch-up can start.
   */
  admitDelivery?: (processorName: string, originId: string, insert: () => Promise<InsertResult>) => Promise<InsertResult>;

  /** managerVersion's live lookups: cached per environment state, one per processor at a time, bounded per node. */
  private readonly liveVersions: LiveVersionCache;

  constructor(options: {
    store: Store; lifecycle: Lifecycle; catalog: ProcessorCatalog; managers: ManagerRegistry; log: Logger; nodeCode: string; isMainNode: boolean;
    /** Package-manager processes that reads may start at once (default 2). */
    readProcesses?: number;
    /** How long a live managerVersion answer is kept when nothing says the environment changed (default 5 min). */
    versionCacheMs?: number;
  }) {
    this.store = options.store;
    this.lifecycle = options.lifecycle;
    this.catalog = options.catalog;
    this.managers = options.managers;
    this.log = options.log;
    this.nodeCode = options.nodeCode;
    this.isMainNode = options.isMainNode;
    this.catalog.on('processor', (name: string) => this.processorCache.delete(name));
    this.liveVersions = new LiveVersionCache({ changes: this.catalog, maxProcesses: options.readProcesses ?? 2, ttlMs: options.versionCacheMs ?? 300_000 });
  }

  /**
   * A processor by name, kept for a second (the hot path of listPackages); the catalog forgets an entry as soon as
   * the processor's folder or processor.json changes, so only changes made to the store by another process can be
   * seen up to a second late. Unknown names are not kept.
   */
  private async processorByName(name: string): Promise<Processor | undefined> {
    const cached = this.cachedProcessor(name);
    if (cached) return cached;
    // Its age counts from before the read: the record is never trusted longer than the cache's second.
    const asked = Date.now();
    const processor = await this.store.findProcessorByName(name);
    if (processor) {
      if (this.processorCache.size >= 10_000) this.processorCache.clear();
      this.processorCache.set(name, { processor, at: asked });
    } else {
      this.processorCache.delete(name);
    }
    return processor;
  }

  /** Access by name (§1.1-1.3): an unknown name fails the check and answers 403, as in WASDI. */
  async processorForRead(caller: Caller, name: string): Promise<Processor> {
    const processor = await this.processorByName(name);
    if (!processor || !canAccess(caller, processor, await this.sharingOf(caller, processor, 'read'))) {
      throw new ForbiddenError('PROCESSOR_NOT_ACCESSIBLE', `processor "${name.slice(0, 80)}" does not exist or you cannot access it`);
    }
    return processor;
  }

  /** Write permission on a known processor (owner, shared with write, admin). */
  async processorForWrite(caller: Caller, processor: Processor): Promise<Processor> {
    if (!canWrite(caller, processor, await this.sharingOf(caller, processor, 'write'))) {
      throw new ForbiddenError('PROCESSOR_NOT_WRITABLE', `you cannot change processor "${processor.name}"`);
    }
    return processor;
  }

  /**
   * The answer of listPackages, serialised once per change of the file (a Buffer: no re-encoding per request), with
   * its ETag and compressed forms kept beside it.
   */
  listPackagesAnswer(caller: Caller, name: string): CachedAnswer | Promise<CachedAnswer> {
    // Answered without a promise when the processor was looked up within the cache's second and the caller needs no
    // sharing record (owner, admin, public): the hot path of every view.
    if (this.readableNow(caller, name)) return this.packagesAnswer(name);
    return this.processorForRead(caller, name).then(() => this.packagesAnswer(name));
  }

  private packagesAnswer(name: string): CachedAnswer {
    const snap = this.catalog.snapshot(name);
    switch (snap.state) {
      case 'ok': return snap.list;
      case 'missing': return NO_PACKAGES;
      case 'empty': throw new UnreadableFileError('SNAPSHOT_EMPTY', 'packagesInfo.json is empty');
      case 'unreadable': throw snap.error;
    }
  }

  /** Whether the cache alone says the caller may read the processor (false: ask the store, as processorForRead does). */
  private readableNow(caller: Caller, name: string): boolean {
    const processor = this.cachedProcessor(name);
    return processor !== undefined && canAccess(caller, processor, undefined);
  }

  /** The processor's record when it was read from the store within PROCESSOR_CACHE_MS. */
  private cachedProcessor(name: string): Processor | undefined {
    const hit = this.processorCache.get(name);
    return hit && Date.now() - hit.at < PROCESSOR_CACHE_MS ? hit.processor : undefined;
  }

  /**
   * managerVersion (§1.3): from the snapshot; undefined (200, empty body) without one; an empty or unreadable
   * snapshot falls back to asking the processor's package manager, and a failure there is undefined too.
   */
  async managerVersion(caller: Caller, name: string): Promise<ManagerVersion | undefined> {
    const processor = await this.processorForRead(caller, name);
    const snap = this.catalog.snapshot(name);
    if (snap.state === 'ok') return snap.managerVersion;
    if (snap.state === 'missing') return undefined;
    const kind = managerKindOf(processor.type);
    const manager = kind ? this.managers[kind] : undefined;
    if (!manager) return undefined;
    const env = { processor, folder: this.catalog.folderOf(name) };
    // A GET does not create an environment: without one there is nothing to ask, as when WASDI's container is down.
    if (manager.hasEnvironment && !manager.hasEnvironment(env)) return undefined;
    return this.liveVersions.get(name, () => manager.version(env, { timeoutMs: 30_000 }).catch((err: unknown) => {
      this.log.warn({ processor: name, err }, 'live manager version lookup failed');
      throw err;
    }));
  }

  /** The history, kept in memory by the catalog and read again only when the file changes (never per request). */
  async environmentActions(caller: Caller, name: string): Promise<{ lines: string[]; answer: CachedAnswer; epoch: string }> {
    await this.processorForRead(caller, name);
    if (!this.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'environmentActions is served by the main node only');
    return { ...this.catalog.historyAnswer(name), epoch: await this.store.findHistoryEpoch(name) };
  }

  /**
   * Main node: the history as a compute node reads it to catch up, with the operation that wrote each line at or
   * after `from`. Operations are read newest first, and lines were appended in that order, so the scan ends at the
   * first operation whose lines all come before `from`. A recorded index is trusted only when the line there is one
   * of that operation's commands (the file may have been edited by hand).
   */
  async clusterHistory(caller: Caller, name: string, from: number): Promise<ClusterHistory> {
    const { lines, epoch } = await this.environmentActions(caller, name);
    const origins: Record<number, string> = {};
    let wanted = Math.max(0, lines.length - from);
    for (let offset = 0; wanted > 0 && offset < HISTORY_ORIGIN_SCAN; offset += 200) {
      const page = await this.store.listOperations({ processorName: name, limit: 200, offset });
      for (const op of page) {
        const rec = op.recorded;
        if (!rec) continue;
        if (rec.epoch !== epoch || rec.lines.every((i) => i < from)) {
          wanted = 0;
          break;
        }
        for (const i of rec.lines) {
          if (i >= from && i < lines.length && origins[i] === undefined && op.commands.includes(lines[i]!)) {
            origins[i] = op.processObjId;
            wanted--;
          }
        }
      }
      if (page.length < 200) break;
    }
    return { nodeCode: this.nodeCode, epoch, lines, from, origins, holds: await this.store.listHolds(name) };
  }

  /**
   * environmentupdate (§1.4): 400 unknown processor, 403 without write permission, 400 for a type without a
   * package manager, 400 for an invalid command; then an ENVIRONMENTUPDATE operation is stored as CREATED.
   */
  async requestUpdate(caller: Caller, request: UpdateRequest): Promise<InsertResult> {
    const via = caller.internal?.via ?? [];
    if (via.includes(this.nodeCode) || (this.isMainNode && via.length > 0)) {
      throw new LoopDetectedError('FORWARDING_LOOP', `this request already passed through ${via.join(', ')}; ${this.isMainNode ? 'the main node does not take forwarded changes' : 'it is not taken twice'}`);
    }
    const processor = await this.store.findProcessorById(request.processorId);
    if (!processor) throw new InvalidInputError('PROCESSOR_NOT_FOUND', `no processor with id "${request.processorId.slice(0, 80)}"`);
    await this.processorForWrite(caller, processor);
    const kind = managerKindOf(processor.type);
    if (!kind) throw new InvalidInputError('NO_PACKAGE_MANAGER', `processor type "${processor.type}" has no package manager`);
    const parsed = request.updateCommands.filter((c) => c !== '').map((c) => parseUpdateCommand(c, kind));
    if (parsed.length > MAX_COMMANDS) throw new InvalidInputError('TOO_MANY_COMMANDS', `at most ${MAX_COMMANDS} commands per operation`);
    // A forwarded change or a history line was checked by the main node; a compute node's own index may differ.
    // Exact pins (a restore) may name versions the index no longer has: the wheel cache holds them.
    if (!caller.internal && !request.sync && !request.exact) await this.checkPackagesExist(kind, parsed);
    // A change from the main node (a delivery, a history line) was checked against its holds there.
    if (!caller.internal && !request.sync) await this.holdCheck?.(processor, parsed);
    const commands = parsed.map(formatUpdateCommand);
    const now = Date.now();
    // A change from another node runs when it arrives: the main node sends a scheduled one only once it starts it.
    const planned = request.schedule && !caller.internal && !request.sync ? await this.resolveSchedule(request.schedule, now) : undefined;
    const operation: Operation = {
      processObjId: randomUUID(),
      operationType: 'ENVIRONMENTUPDATE',
      processorId: processor.processorId,
      productName: processor.name,
      workspaceId: request.workspace,
      userId: caller.userId,
      nodeCode: this.nodeCode,
      status: 'CREATED',
      commands,
      operationTimestamp: now,
      lastStateChangeTimestamp: now,
      progressPerc: 0,
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
      ...(request.sync ? { sync: request.sync } : {}),
      ...planned,
    };
    // A delivered change runs its commands as the main node's operation did.
    const options = { ...caller.internal?.options, ...(request.exact ? { exact: true } : {}), ...(request.rollbackOnFailure ? { rollbackOnFailure: true } : {}) };
    if (options.exact) operation.exact = true;
    if (options.rollbackOnFailure) operation.rollbackOnFailure = true;
    if (request.expect) operation.expect = request.expect;
    if (request.planId) operation.planId = request.planId;
    if (request.restoreOf !== undefined) operation.restoreOf = request.restoreOf;
    if (request.batchId !== undefined) operation.batchId = request.batchId;
    const origin = caller.internal?.originOperationId;
    if (origin !== undefined && via.length > 0) {
      // A delivery sent again (its answer was lost) finds the operation the first one created.
      operation.origin = { nodeCode: via.at(-1)!, operationId: origin };
      operation.idempotencyKey = `origin:${via.at(-1)}:${origin}`;
    }
    const insert = () => this.lifecycle.queue(operation);
    const result = origin !== undefined && this.admitDelivery ? await this.admitDelivery(processor.name, origin, insert) : await insert();
    if (result.created) {
      this.log.info({
        operationId: operation.processObjId, processor: processor.name, commands,
        ...(planned ? { notBefore: planned.notBefore, notAfter: planned.notAfter, window: planned.window } : {}),
      }, 'operation queued');
    }
    return result;
  }

  /**
   * A schedule resolved to the concrete times stored on the operation (`notBefore`, `notAfter`, …); the window is
   * looked up in this node's store (the main node's). 400 WINDOW_NOT_FOUND, WINDOW_NEVER_OPENS. requestUpdate calls
   * it for each operation (each draws its own random delay); a batch may call it first to refuse a bad schedule
   * before it queues anything.
   */
  async resolveSchedule(schedule: ScheduleRequest, now = Date.now()): Promise<PlannedSchedule> {
    const window = schedule.window === undefined ? undefined : await this.store.findWindow(schedule.window);
    if (schedule.window !== undefined && !window) {
      throw new InvalidInputError('WINDOW_NOT_FOUND', `no maintenance window "${schedule.window}"${this.isMainNode ? '' : ' (windows are kept on the main node)'}`);
    }
    return planSchedule(schedule, window, now);
  }

  /**
   * WASDI asks PyPI before scheduling (§4); procenv asks the configured index, when one is configured and
   * answers: a package it says does not exist is a 400. An index that cannot be reached does not block the request.
   */
  private async checkPackagesExist(kind: ManagerKind, commands: UpdateCommand[]): Promise<void> {
    const manager = this.managers[kind];
    if (!manager?.packageExists) return;
    for (const c of commands) {
      if (c.action === 'removePackage') continue;
      const exists = await manager.packageExists(c.name, { timeoutMs: 5_000 });
      if (exists === false) {
        throw new InvalidInputError('PACKAGE_NOT_FOUND', `package "${c.name}" is not in the configured package index`, { details: { package: c.name } });
      }
    }
  }

  /** reset (§1.5): procenv asks for write permission (WASDI asks only read); 400 off the main node. */
  async reset(caller: Caller, processorId: string): Promise<void> {
    const processor = await this.store.findProcessorById(processorId);
    if (!processor || !canWrite(caller, processor, await this.sharingOf(caller, processor, 'write'))) {
      throw new ForbiddenError('PROCESSOR_NOT_WRITABLE', `processor "${processorId.slice(0, 80)}" does not exist or you cannot change it`);
    }
    if (!this.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'reset is served by the main node only');
    // Compute nodes see the new epoch and start over at line 0 without re-applying the old lines. The epoch comes
    // first: a store that cannot answer (503) then leaves the history as it was, instead of deleted without a new
    // epoch to tell the compute nodes.
    await this.store.newHistoryEpoch(processor.name);
    await this.catalog.removeHistory(processor.name);
    this.log.info({ processor: processor.name, userId: caller.userId }, 'environment history reset');
  }

  /** The caller's sharing of the processor, looked up only when the answer can change the verdict. */
  private async sharingOf(caller: Caller, processor: Processor, need: 'read' | 'write') {
    if (caller.admin || processor.userId === caller.userId || (need === 'read' && processor.isPublic)) return undefined;
    return this.store.findSharing(processor.processorId, caller.userId);
  }
}
