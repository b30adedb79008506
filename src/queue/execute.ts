import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { writePackagesInfo } from '../catalog/files.ts';
import { ProcenvError } from '../domain/errors.ts';
import type { Operation, OperationError } from '../domain/operation.ts';
import { packagesOf, type GenerationSummary } from '../domain/generations.ts';
import { toJavaForm, type PackagesInfo } from '../domain/packages.ts';
import { exactCommands } from '../domain/plans.ts';
import { managerKindOf } from '../domain/processor.ts';
import { formatUpdateCommand, parseUpdateCommand } from '../domain/update-command.ts';
import type { Environment, ManagerRegistry, PackageManager, RunContext } from '../managers/types.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { GenerationService } from '../services/generations.ts';
import type { HoldService } from '../services/holds.ts';
import type { Store } from '../store/types.ts';
import type { LogBuffer } from './log-buffer.ts';
import { processStartTime } from './orphans.ts';

export interface ExecuteDeps {
  store: Store;
  lifecycle: Lifecycle;
  catalog: ProcessorCatalog;
  managers: ManagerRegistry;
  log: Logger;
  isMainNode: boolean;
  commandTimeoutMs: number;
  /** Records the environment's generation after packagesInfo.json was rewritten (absent: none recorded). */
  generations?: Pick<GenerationService, 'recordOperation' | 'firstSeen'>;
  /** The held packages of a processor as constraints (absent: none). */
  holds?: Pick<HoldService, 'constraints'>;
  /** Runs a store write that records the truth, again until the store answers (worker's `untilStored`). */
  persist: <T>(what: string, write: () => Promise<T>) => Promise<T>;
}

export interface ExecuteOutcome {
  status: 'DONE' | 'ERROR' | 'STOPPED';
  error?: OperationError;
  /** The commands that succeeded, in order. */
  applied: string[];
  /** Cancelled after a command had started: packagesInfo.json may be stale and a refresh should follow. */
  refreshNeeded?: boolean;
  /** rollbackOnFailure: what the rollback after the failure did. */
  rollback?: Operation['rollback'];
}

function errorOf(err: unknown): OperationError {
  if (err instanceof ProcenvError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };
}

/**
 * Runs one claimed operation (WASDI's Environmentupdate.executeOperation, reference §5.2, without its failures):
 * each command is applied by the processor's package manager and judged by the manager's own verdict; a command
 * that succeeded is appended to envActionsList.txt (main node) at once, so the history never holds a command that
 * failed and never misses one that ran; then packagesInfo.json is regenerated (also after a failure, since earlier
 * commands of a batch may have changed the environment), atomically, and kept as it was when that fails.
 */
export async function executeOperation(deps: ExecuteDeps, op: Operation, out: LogBuffer, signal: AbortSignal,
  onProgress: (perc: number) => void): Promise<ExecuteOutcome> {
  const applied: string[] = [];
  const processor = await deps.persist('processor lookup', () => deps.store.findProcessorById(op.processorId));
  const folder = processor ? deps.catalog.folderOf(processor.name) : undefined;
  if (!processor || !folder || !existsSync(folder)) {
    return { status: 'ERROR', applied, error: { code: 'PROCESSOR_GONE', message: `processor "${op.productName}" is no longer on this node` } };
  }
  const kind = managerKindOf(processor.type);
  const manager = kind ? deps.managers[kind] : undefined;
  if (!kind || !manager?.apply || !manager.snapshot) {
    return { status: 'ERROR', applied, error: { code: 'NO_PACKAGE_MANAGER', message: `processor type "${processor.type}" has no package manager here` } };
  }
  const env: Environment = { processor, folder };
  const ctx = {
    signal, timeoutMs: deps.commandTimeoutMs,
    onLine: (stream: 'stdout' | 'stderr', line: string) => out.push(stream, line),
    onSpawn: (pid: number) => {
      const pidStartTime = processStartTime(pid);
      // Only used to kill what a crashed worker left running: worth a try, not worth holding the command for.
      deps.lifecycle.processStarted(op, pid, pidStartTime)
        .catch((err) => deps.log.warn({ err, pid }, 'package-manager pid not stored'));
    },
  };
  // Before anything runs: a worker that dies after this point leaves an operation that must not simply run again.
  const started = await deps.persist('execution start', () => deps.lifecycle.executionStarted(op));
  // Another worker took the operation over (its lease was taken as lapsed) or it was cancelled: run nothing.
  if (!started) return { status: 'ERROR', applied, error: { code: 'LEASE_LOST', message: 'the operation was no longer held by this worker when it was about to start' } };

  // The state the environment starts from, kept when procenv has not recorded this processor yet.
  await deps.generations?.firstSeen(processor.name);
  const before = deps.generations || op.expect ? await deps.store.findLatestGeneration(processor.name).catch(() => undefined) : undefined;
  // A plan (or a restore) was computed on one generation: on any other it would do something nobody saw.
  if (op.expect && before?.hash !== op.expect.hash) {
    const now = before ? `generation ${before.number}` : 'a state procenv has not recorded';
    out.push('procenv', `the environment is no longer generation ${op.expect.generation} (now ${now}): nothing was run`);
    return {
      status: 'ERROR', applied,
      error: { code: 'STALE_PLAN', message: `the plan was made on generation ${op.expect.generation}, but the environment is now ${now}; make a new plan` },
    };
  }

  // Held packages stay where they are, whatever the resolver would like (pip's --constraint).
  const constraints = (await deps.holds?.constraints(processor.name, kind).catch((err) => {
    deps.log.warn({ err }, 'holds not read: no constraints');
    return [];
  })) ?? [];
  if (constraints.length) out.push('procenv', `held packages kept as they are: ${constraints.join(', ')}`);
  let failure: OperationError | undefined;
  let touched = false;
  let rewritten: PackagesInfo | undefined;
  let recorded = op.recorded;
  // The main node stores which line it is about to append before writing it: a compute node that reads the line
  // also finds the operation that wrote it, and so knows whether that operation's delivery already ran there.
  // The command has already run: the line must be written, so this waits for a store that is unavailable.
  const record = (index: number): Promise<void> => deps.persist('history line', async () => {
    const epoch = await deps.store.findHistoryEpoch(processor.name);
    const next = recorded?.epoch === epoch ? { epoch, lines: [...recorded.lines, index] } : { epoch, lines: [index] };
    await deps.lifecycle.recorded(op, next);
    recorded = next;
  });
  // Command events tell followers what runs; a store that cannot take one does not hold the command back.
  const publish = (index: number, phase: 'started' | 'finished', detail: { ok?: boolean; error?: OperationError } = {}) => {
    deps.lifecycle.command(op, index, phase, detail).catch((err) => deps.log.warn({ err, index, phase }, 'command event not stored'));
  };
  for (const [i, text] of op.commands.entries()) {
    if (signal.aborted) break;
    touched = true;
    out.push('procenv', `command ${i + 1}/${op.commands.length}: ${text}`);
    publish(i, 'started');
    try {
      await manager.apply(env, [parseUpdateCommand(text, kind)], ctx, { exact: op.exact === true, constraints });
    } catch (err) {
      failure = errorOf(err);
      out.push('procenv', `command failed: ${failure.message}`);
      publish(i, 'finished', { ok: false, error: failure });
      break;
    }
    publish(i, 'finished', { ok: true });
    applied.push(text);
    if (deps.isMainNode) {
      try {
        if (await deps.catalog.appendHistory(processor.name, text, record)) out.push('procenv', `recorded in envActionsList.txt: ${text}`);
      } catch (err) {
        // The command ran, but its line cannot be written (the file is refused: a link, a FIFO, over the limit):
        // the history and the environment now differ, which the operation says instead of going on.
        failure = errorOf(err);
        out.push('procenv', `the command ran but could not be recorded: ${failure.message}`);
        break;
      }
    }
    onProgress(Math.round(((i + 1) / (op.commands.length + 1)) * 100));
  }

  let rollback: Operation['rollback'];
  if (failure && op.rollbackOnFailure && !signal.aborted && before) {
    rollback = await rollBack({ deps, op, env, kind, manager, ctx, out, signal, before, appendHistory: (text) => deps.catalog.appendHistory(processor.name, text, record) });
  }

  if (!signal.aborted) {
    out.push('procenv', 'refreshing packagesInfo.json');
    try {
      const info = await manager.snapshot(env, ctx);
      writePackagesInfo(folder, toJavaForm(info));
      deps.catalog.rewritten(processor.name);
      rewritten = info;
      out.push('procenv', `packagesInfo.json written: ${(info.outdated?.length ?? 0) + (info.uptodate?.length ?? 0) + (info.all?.length ?? 0)} packages`);
    } catch (err) {
      const e = errorOf(err);
      out.push('procenv', `packagesInfo.json kept as it was: ${e.message}`);
      if (!failure && !signal.aborted) failure = { code: 'SNAPSHOT_FAILED', message: `the package list could not be refreshed: ${e.message}` };
    }
  }
  if (rewritten) {
    await deps.lifecycle.packagesChanged(processor.name, 'operation', op.processObjId)
      .catch((err) => deps.log.warn({ err }, 'packages event not stored'));
    // Before the operation ends, so that whoever sees it end finds the generation it made. A store that cannot take
    // it loses this one state only: the next change is compared with the newest generation stored.
    const generation = await deps.generations?.recordOperation(processor, rewritten, op)
      .catch((err) => deps.log.warn({ err }, 'generation not recorded'));
    if (generation) {
      out.push('procenv', generation.operationId === op.processObjId
        ? `generation ${generation.number} recorded (sha256 ${generation.hash})`
        : `package set unchanged: still generation ${generation.number}`);
    }
  }
  // After a cancel the operation ends at once; a command that had started may have changed the environment, so
  // a refresh operation follows it in the processor's queue (the caller queues it).
  if (signal.aborted) return { status: 'STOPPED', applied, refreshNeeded: touched, error: { code: 'CANCELLED', message: 'the operation was cancelled' }, ...(rollback ? { rollback } : {}) };
  if (failure) return { status: 'ERROR', applied, error: failure, ...(rollback ? { rollback } : {}) };
  return { status: 'DONE', applied };
}

interface RollbackArgs {
  deps: ExecuteDeps;
  op: Operation;
  env: Environment;
  kind: NonNullable<ReturnType<typeof managerKindOf>>;
  manager: PackageManager;
  ctx: RunContext;
  out: LogBuffer;
  signal: AbortSignal;
  before: GenerationSummary;
  /** Appends a line to envActionsList.txt (main node), recorded as this operation's; false when not appended. */
  appendHistory: (text: string) => Promise<boolean>;
}

/**
 * rollbackOnFailure: after a command failed, the exact commands that take the environment from what it is now
 * (the manager's own list) back to the generation it started from, each installed without dependencies. On the main
 * node each is recorded in envActionsList.txt like any command, so that a replay of the history ends where the
 * environment is. A rollback that fails itself stops there and says so; the operation stays ERROR either way.
 */
async function rollBack(a: RollbackArgs): Promise<NonNullable<Operation['rollback']>> {
  const { deps, op, env, kind, manager, ctx, out, before } = a;
  const commands: string[] = [];
  out.push('procenv', `rolling back to generation ${before.number}`);
  try {
    const target = await deps.store.findGeneration(op.productName, before.number);
    if (!target) throw new Error(`generation ${before.number} is no longer stored`);
    const current = packagesOf(kind, await manager.snapshot!(env, ctx));
    const exact = exactCommands(kind, current, target.packages);
    for (const command of exact) {
      if (a.signal.aborted) throw new Error('the operation was cancelled during its rollback');
      const text = formatUpdateCommand(command);
      out.push('procenv', `rollback: ${text}`);
      await manager.apply!(env, [command], ctx, { exact: true });
      commands.push(text);
      if (deps.isMainNode && (await a.appendHistory(text))) out.push('procenv', `recorded in envActionsList.txt: ${text}`);
    }
    out.push('procenv', `rolled back to generation ${before.number}: ${commands.length} command(s)`);
    return { generation: before.number, commands, status: 'DONE' };
  } catch (err) {
    const error = errorOf(err);
    out.push('procenv', `the rollback failed: ${error.message}`);
    return { generation: before.number, commands, status: 'ERROR', error };
  }
}
