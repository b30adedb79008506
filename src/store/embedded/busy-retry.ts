import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError } from '../../domain/errors.ts';

/**
 * How long one SQLite call may wait for another process's lock inside SQLite itself. better-sqlite3 is
 * synchronous, so this wait blocks the event loop: it is kept to a few milliseconds, and longer waits happen in
 * `withBusyRetry` between attempts, where the loop keeps serving requests.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5;

const FIRST_PAUSE_MS = 5;
const LONGEST_PAUSE_MS = 250;

/** SQLITE_BUSY and SQLITE_LOCKED with their extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, LOCKED_SHAREDCACHE…). */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * Runs one synchronous store step, and again while SQLite answers busy: the pauses between attempts are
 * asynchronous, double from 5 ms up to 250 ms with jitter (several waiting callers do not retry in step), and
 * last at most `budgetMs` in all; then the step fails with StoreUnavailableError. Any other error is thrown as is.
 * `beforeAttempt` runs before every attempt (the store file check).
 */
export async function withBusyRetry<T>(step: () => T, budgetMs: number, beforeAttempt?: () => void): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      beforeAttempt?.();
      return step();
    } catch (err) {
      if (!isBusyError(err)) throw err;
      const left = budgetMs - (Date.now() - started);
      if (left <= 0) {
        throw new StoreUnavailableError(`the store is locked by another process and did not answer within ${budgetMs} ms; try again later`, {
          cause: err, details: { reason: 'busy' },
        });
      }
      const pause = Math.min(LONGEST_PAUSE_MS, FIRST_PAUSE_MS * 2 ** attempt);
      await sleep(Math.min(left, pause / 2 + Math.random() * (pause / 2)));
    }
  }
}
