import { MongoNetworkError, MongoNotConnectedError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';
import { StoreUnavailableError } from '../../domain/errors.ts';

/** The driver's errors that mean "no server answers" (not "the server refused this"): trying later may work. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof MongoServerSelectionError || err instanceof MongoNetworkError
    || err instanceof MongoNotConnectedError || err instanceof MongoTopologyClosedError;
}

function mapped(err: unknown): unknown {
  // The driver's message names hosts of the connection string; the answer says only what the caller can act on.
  return isUnreachable(err) ? new StoreUnavailableError('the MongoDB store cannot be reached; try again later', { cause: err, details: { reason: 'unreachable' } }) : err;
}

/**
 * The store with every method's "server unreachable" errors turned into StoreUnavailableError, so that a change
 * answers 503 STORE_UNAVAILABLE as with a locked SQLite file, and the queue waits for the store as it does there.
 */
export function withUnavailableErrors<T extends object>(store: T): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(mapped(err))) : result;
      };
    },
  });
}
