import type { Config } from '../config/schema.ts';
import type { ManagerRegistry } from './types.ts';
import { PipManager } from './pip/pip-manager.ts';

/** One registry map from manager kind to implementation (renovate's `lib/modules/manager/api.ts`). */
export function createManagers(_config: Config): ManagerRegistry {
  return { pip: new PipManager() };
}
