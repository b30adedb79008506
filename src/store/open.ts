import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { SqliteStore } from './embedded/sqlite-store.ts';
import type { Store } from './types.ts';

export const EMBEDDED_STORE_FILE = 'procenv.sqlite';

/** Opens the store the configuration names. Only this file and main.ts pick a concrete adapter. */
export async function openStore(
  config: Pick<Config, 'store' | 'dataDir' | 'mongodbUrl' | 'mongodbDatabase'> & Partial<Pick<Config, 'storeBusyWaitMs'>>,
  log?: Logger,
): Promise<Store> {
  if (config.store === 'mongodb') {
    const { MongoStore } = await import('./mongodb/mongo-store.ts');
    return MongoStore.connect(config.mongodbUrl, config.mongodbDatabase);
  }
  return new SqliteStore(join(resolve(config.dataDir), EMBEDDED_STORE_FILE), {
    ...(config.storeBusyWaitMs === undefined ? {} : { busyWaitMs: config.storeBusyWaitMs }), ...(log ? { log } : {}),
  });
}
