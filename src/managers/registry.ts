import type { Config } from '../config/schema.ts';
import { CondaManager } from './conda/conda-manager.ts';
import { PipManager } from './pip/pip-manager.ts';
import type { ManagerRegistry } from './types.ts';

/**
 * One registry map from manager kind to implementation (renovate's `lib/modules/manager/api.ts`).
 * `env` is the environment package-manager processes start with (default: this process's, so that pip's own
 * PIP_* variables reach pip unchanged).
 */
export function createManagers(config: Config, env: NodeJS.ProcessEnv = process.env): ManagerRegistry {
  return { pip: PipManager.fromConfig(config, env), conda: CondaManager.fromConfig(config, env) };
}
