import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { writePackagesInfo } from '../catalog/files.ts';
import { ProcenvError } from '../domain/errors.ts';
import type { Operation, OperationError } from '../domain/operation.ts';
import { toJavaForm, type PackagesInfo } from '../domain/packages.ts';
import { managerKindOf } from '../domain/processor.ts';
import { parseUpdateCommand } from '../domain/update-command.ts';
import type { Environment, ManagerRegistry } from '../managers/types.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { GenerationService } from '../services/generations.ts';
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
      await manager.apply(env, [parseUpdateCommand(text, kind)], ctx);
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
  if (signal.aborted) return { status: 'STOPPED', applied, refreshNeeded: touched, error: { code: 'CANCELLED', message: 'the operation was cancelled' } };
  if (failure) return { status: 'ERROR', applied, error: failure };
  return { status: 'DONE', applied };
}
