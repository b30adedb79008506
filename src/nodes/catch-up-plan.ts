import { withoutCredentials, type SkippedLine, type SyncState } from '../domain/cluster.ts';
import type { Operation } from '../domain/operation.ts';
import type { ManagerKind } from '../domain/processor.ts';
import { parseUpdateCommand } from '../domain/update-command.ts';
import { MAX_COMMANDS } from '../services/environments.ts';

/** How many skipped lines a processor's sync state keeps (the oldest go first). */
const MAX_SKIPPED = 100;

export interface CatchUpPlan {
  /** The lines to run, as they are in the history, at most MAX_COMMANDS. */
  commands: string[];
  /** The history index of each command. */
  indexes: number[];
  /** Lines in [from, to) that are not valid update commands: never run. */
  skipped: SkippedLine[];
  /** The end of the range this plan covers: the line after its last command, or the history's end. */
  to: number;
}

/** A history line as it may be shown or logged: no URL credentials, at most 200 characters. */
export function shownLine(line: string): string {
  return withoutCredentials(line).slice(0, 200);
}

/**
 * The next catch-up operation from history line `from`: up to MAX_COMMANDS lines that parse as update commands,
 * in order. The main node validated its lines when it ran them, but its envActionsList.txt may have been written
 * by something else (WASDI, a hand edit): a line that does not parse is passed over here, never run, and the lines
 * after it still are.
 */
export function planCatchUp(lines: readonly string[], from: number, kind: ManagerKind): CatchUpPlan {
  const plan: CatchUpPlan = { commands: [], indexes: [], skipped: [], to: lines.length };
  for (let i = from; i < lines.length; i++) {
    if (plan.commands.length === MAX_COMMANDS) {
      plan.to = i;
      break;
    }
    const line = lines[i]!;
    try {
      parseUpdateCommand(line, kind);
    } catch (err) {
      plan.skipped.push({ index: i, line: shownLine(line), reason: withoutCredentials((err as Error).message).slice(0, 300) });
      continue;
    }
    plan.commands.push(line);
    plan.indexes.push(i);
  }
  return plan;
}

/** Adds a skipped line to the state; answers false when it was already recorded. */
export function recordSkipped(state: SyncState, skip: SkippedLine): boolean {
  const list = state.skipped ?? [];
  if (list.some((s) => s.index === skip.index && s.line === skip.line)) return false;
  list.push(skip);
  list.sort((a, b) => a.index - b.index);
  state.skipped = list.slice(-MAX_SKIPPED);
  return true;
}

/**
 * The delay before failed catch-up number `attempts` (1-based) is tried again: base · 2^(attempts−1) capped at
 * max, of which a random half (equal jitter: never less than half the step, so the backoff holds even when the
 * random draw is low, and nodes that failed together do not retry together).
 */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(attempts - 1, 30));
  return step / 2 + Math.random() * (step / 2);
}

/**
 * How many of a finished catch-up's commands ran, from the first: all of them when it ended DONE or only the package
 * list could not be refreshed afterwards, otherwise the count the queue recorded. An operation without that count
 * (written by an older procenv) counts as none, so its lines are all run again, which is safe.
 */
export function succeededCommands(op: Operation): number {
  if (op.status === 'DONE' || op.error?.code === 'SNAPSHOT_FAILED') return op.commands.length;
  return Math.min(op.appliedCount ?? 0, op.commands.length);
}
