import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../domain/errors.ts';
import { diffGenerations, type Generation, type VersionOrder } from '../domain/generations.ts';
import type { Operation } from '../domain/operation.ts';
import { exactCommands, exactResult, formatCommands, planChanges, type DryRun, type Plan } from '../domain/plans.ts';
import { managerKindOf, type ManagerKind, type Processor } from '../domain/processor.ts';
import { parseUpdateCommand } from '../domain/update-command.ts';
import type { Caller } from '../domain/user.ts';
import type { ManagerRegistry } from '../managers/types.ts';
import type { Store } from '../store/types.ts';
import type { EnvironmentService } from './environments.ts';
import { MAX_COMMANDS } from './environments.ts';
import type { GenerationService } from './generations.ts';

export interface PlanServiceOptions {
  store: Store;
  environments: Pick<EnvironmentService, 'processorForRead' | 'processorForWrite' | 'requestUpdate'>;
  generations: Pick<GenerationService, 'firstSeen'>;
  managers: ManagerRegistry;
  catalog: Pick<ProcessorCatalog, 'folderOf'>;
  log: Logger;
  /** How long a plan can be executed after it was made. */
  ttlMs: number;
  /** The most plans kept; the oldest go first. */
  maxPlans: number;
  /** Time limit of a dry run. */
  dryRunTimeoutMs: number;
}

/**
 * Plans (a change shown before it runs) and restores (one call back to any generation). A plan is computed by the
 * manager's own dry run on the processor's newest generation, kept in this process's memory for `ttlMs`, and runs
 * as an operation only while the environment is still that generation: checked when it is executed, and again by
 * the worker right before its first command. A plan is cheap to make again, so it is not stored: a restart, or a
 * plan asked of another procenv process, answers 404 PLAN_NOT_FOUND.
 */
export class PlanService {
  private readonly plans = new Map<string, Plan & { operationId?: string }>();

  constructor(private readonly o: PlanServiceOptions) {}

  /** The change `commands` would make: pip's `install --dry-run --report`, conda's `--dry-run --json`. */
  async create(caller: Caller, name: string, rawCommands: unknown): Promise<Plan> {
    const { processor, kind } = await this.writable(caller, name);
    if (!Array.isArray(rawCommands) || rawCommands.length === 0 || !rawCommands.every((c) => typeof c === 'string' && c !== '')) {
      throw new InvalidInputError('INVALID_BODY', 'give "commands": a non-empty list of update commands ("addPackage/<name>/[<version>/]", …)');
    }
    if (rawCommands.length > MAX_COMMANDS) throw new InvalidInputError('TOO_MANY_COMMANDS', `at most ${MAX_COMMANDS} commands per plan`);
    const commands = (rawCommands as string[]).map((c) => parseUpdateCommand(c, kind));
    const manager = this.o.managers[kind];
    if (!manager?.dryRun) throw new InvalidInputError('NO_DRY_RUN', `the ${kind} manager here cannot make a plan`);
    const current = await this.current(processor.name);
    const dry: DryRun = await manager.dryRun({ processor, folder: this.folderOf(processor) }, commands, current.packages, { timeoutMs: this.o.dryRunTimeoutMs });
    return this.keep({
      planId: randomUUID(), processorName: processor.name, manager: kind, commands: formatCommands(commands),
      generation: current.number, hash: current.hash, exact: false,
      changes: planChanges(kind, current.packages, dry, this.order(kind)),
      createdBy: caller.userId, createdAt: Date.now(), expiresAt: Date.now() + this.o.ttlMs,
    });
  }

  /** The plan that takes the environment from its newest generation to generation `number`'s exact package set. */
  async restorePlan(caller: Caller, name: string, number: number): Promise<Plan> {
    const { processor, kind } = await this.writable(caller, name);
    const current = await this.current(processor.name);
    const target = await this.o.store.findGeneration(processor.name, number);
    if (!target) throw new NotFoundError('GENERATION_NOT_FOUND', `processor "${processor.name}" has no generation ${number}`, { details: { generation: number } });
    const result = exactResult(kind, current.packages, target.packages);
    return this.keep({
      planId: randomUUID(), processorName: processor.name, manager: kind,
      commands: formatCommands(exactCommands(kind, current.packages, target.packages)),
      generation: current.number, hash: current.hash, resultHash: result.hash, exact: true, restoreOf: number,
      changes: planChanges(kind, current.packages, { packages: result.packages, orphaned: [] }, this.order(kind)),
      createdBy: caller.userId, createdAt: Date.now(), expiresAt: Date.now() + this.o.ttlMs,
    });
  }

  async get(caller: Caller, planId: string): Promise<Plan> {
    const plan = this.find(planId);
    await this.o.environments.processorForRead(caller, plan.processorName);
    return plan;
  }

  /**
   * Queues the plan's commands as one operation, while the environment is still the plan's generation (409
   * STALE_PLAN with what changed since otherwise). Executing a plan again answers the operation it made.
   */
  async execute(caller: Caller, planId: string): Promise<{ operation: Operation; created: boolean }> {
    const plan = this.find(planId);
    const { processor, kind } = await this.writable(caller, plan.processorName);
    if (plan.operationId) {
      const op = await this.o.store.findOperation(plan.operationId);
      if (op) return { operation: op, created: false };
    }
    // A change still queued or running would make the plan stale before it runs, after its deliveries to the
    // compute nodes (made when it is queued, as for any change) had gone out: refused now instead.
    const busy = await this.o.store.listOperations({ processorName: processor.name, status: ['CREATED', 'RUNNING'], limit: 1, offset: 0 });
    if (busy.length > 0) {
      throw new ConflictError('PROCESSOR_BUSY', `operation ${busy[0]!.processObjId} of processor "${processor.name}" is ${busy[0]!.status === 'RUNNING' ? 'running' : 'queued'}: execute the plan once it ended (and the plan still holds)`, {
        details: { operationId: busy[0]!.processObjId },
      });
    }
    const latest = await this.o.store.findLatestGeneration(processor.name);
    if (!latest || latest.hash !== plan.hash) {
      const details: Record<string, unknown> = { planGeneration: plan.generation, planHash: plan.hash };
      if (latest) {
        details.currentGeneration = latest.number;
        details.currentHash = latest.hash;
        const [from, to] = await Promise.all([this.o.store.findGeneration(processor.name, plan.generation), this.o.store.findGeneration(processor.name, latest.number)]);
        if (from && to) details.changedSince = diffGenerations(kind, from, to, this.order(kind));
      }
      throw new ConflictError('STALE_PLAN', `the plan was made on generation ${plan.generation}, but the environment is now ${latest ? `generation ${latest.number}` : 'unknown'}: make a new plan`, { details });
    }
    const result = await this.o.environments.requestUpdate(caller, {
      processorId: processor.processorId, workspace: '-', updateCommands: plan.commands, planId: plan.planId,
      expect: { generation: plan.generation, hash: plan.hash },
      ...(plan.exact ? { exact: true } : {}), ...(plan.restoreOf !== undefined ? { restoreOf: plan.restoreOf } : {}),
    });
    plan.operationId = result.operation.processObjId;
    this.o.log.info({ planId, operationId: plan.operationId, processor: processor.name, restoreOf: plan.restoreOf }, 'plan executed');
    return result;
  }

  private find(planId: string): Plan & { operationId?: string } {
    this.prune();
    const plan = this.plans.get(planId);
    if (!plan) throw new NotFoundError('PLAN_NOT_FOUND', `no plan "${planId.slice(0, 80)}" (plans are kept ${Math.round(this.o.ttlMs / 60_000)} minutes, by the procenv process that made them)`);
    return plan;
  }

  private keep(plan: Plan): Plan {
    this.prune();
    while (this.plans.size >= this.o.maxPlans) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(plan.planId, plan);
    return plan;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, p] of this.plans) if (p.expiresAt <= now) this.plans.delete(id);
  }

  private async writable(caller: Caller, name: string): Promise<{ processor: Processor; kind: ManagerKind }> {
    const processor = await this.o.environments.processorForRead(caller, name);
    await this.o.environments.processorForWrite(caller, processor);
    const kind = managerKindOf(processor.type);
    if (!kind) throw new InvalidInputError('NO_PACKAGE_MANAGER', `processor type "${processor.type}" has no package manager`);
    return { processor, kind };
  }

  /** The processor's newest generation with its package set (its first recorded now if it has none). */
  private async current(name: string): Promise<Generation> {
    await this.o.generations.firstSeen(name);
    const latest = await this.o.store.findLatestGeneration(name);
    const g = latest && (await this.o.store.findGeneration(name, latest.number));
    if (!g) throw new ConflictError('NO_GENERATION', `procenv has no record of processor "${name}"'s environment yet (no packagesInfo.json): refresh it first`);
    return g;
  }

  private folderOf(processor: Processor): string {
    const folder = this.o.catalog.folderOf(processor.name);
    if (!folder) throw new NotFoundError('PROCESSOR_NOT_FOUND', `processor "${processor.name}" has no folder on this node`);
    return folder;
  }

  private order(kind: ManagerKind): VersionOrder {
    const m = this.o.managers[kind];
    return m?.compareVersions ? (a, b) => m.compareVersions!(a, b) : () => undefined;
  }
}
