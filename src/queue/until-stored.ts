import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../domain/errors.ts';

const PAUSE_MS = 500;

/**
 * Runs a store write that records what really happened to an operation (it started, a history line, its end) and,
 * while the store is unavailable (locked past its wait budget, its file deleted or replaced), runs it again until
 * the store answers: a package that pip installed must end DONE with its history line however long the store was
 * locked. Only a stop ends the wait: then the write is tried once more and its error thrown (the operation's lease
 * lapses and the next start treats it as lost). Errors other than an unavailable store are thrown at once.
 */
export async function untilStored<T>(what: string, write: () => Promise<T>, options: { log: Logger; stopped: () => boolean }): Promise<T> {
  let waitedSince: number | undefined;
  for (;;) {
    try {
      const result = await write();
      if (waitedSince !== undefined) options.log.info({ what, waitedMs: Date.now() - waitedSince }, 'store answered again; recorded');
      return result;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || options.stopped()) throw err;
      if (waitedSince === undefined) {
        waitedSince = Date.now();
        options.log.warn({ what, code: err.code, reason: err.details?.reason }, 'store unavailable; waiting to record');
      }
      await sleep(PAUSE_MS);
    }
  }
}
