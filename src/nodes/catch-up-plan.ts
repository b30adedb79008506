import { withoutCredentials, type SkippedLine, type SyncState } from '../domain/cluster.ts';
import type { Operation } from '../domain/operation.ts';
import type { ManagerKind } from '../domain/processor.ts';
import { parseUpdateCommand } from '../domain/update-command.ts';
import { MAX_COMMANDS } from '../services/environments.ts';
import type { Store } from '../store/types.ts';

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

const COMMAND_NOTE = /^command (\d+)\/(\d+): /;

/**
 * How many of an ended operation's commands succeeded, from procenv's own notes in its log (the queue writes
 * `command k/n: …` before each command and stops at the first failure). The command that was running when the
 * operation ended (failed, cancelled or cut short by a stop) counts as not run: running it again is safe, skipping
 * a command that did not finish is not. A snapshot failure comes after every command ran. Answers 0 when the notes
 * cannot be matched to the operation's commands.
 */
export async function succeededCommands(store: Store, op: Operation): Promise<number> {
  if (op.status === 'DONE' || op.error?.code === 'SNAPSHOT_FAILED') return op.commands.length;
  let last = 0;
  let after = 0;
  for (;;) {
    const page = await store.readOperationLog(op.processObjId, { afterSeq: after, limit: 1000 });
    for (const entry of page) {
      const m = entry.stream === 'procenv' ? COMMAND_NOTE.exec(entry.line) : null;
      if (!m) continue;
      const k = Number(m[1]);
      if (Number(m[2]) !== op.commands.length || entry.line.slice(m[0].length) !== op.commands[k - 1]) return 0;
      last = k;
    }
    if (page.length < 1000) break;
    after = page.at(-1)!.seq;
  }
  return Math.max(0, last - 1);
}
