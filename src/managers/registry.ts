import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { managerKindOf, type Processor } from '../domain/processor.ts';
import { CondaManager } from './conda/conda-manager.ts';
import { PipManager } from './pip/pip-manager.ts';
import { WheelCache } from './pip/wheel-cache.ts';
import type { ManagerRegistry } from './types.ts';

/**
 * One registry map from manager kind to implementation (renovate's `lib/modules/manager/api.ts`).
 * `env` is the environment package-manager processes start with (default: this process's, so that pip's own
 * PIP_* variables reach pip unchanged).
 */
export function createManagers(config: Config, env: NodeJS.ProcessEnv = process.env, log?: Logger): ManagerRegistry {
  const megabytes = config['pip.wheelCacheMegabytes'];
  const wheelCache = megabytes > 0 ? new WheelCache(join(resolve(config.dataDir), 'wheels'), megabytes * 1024 * 1024, log?.child({ component: 'wheel-cache' })) : undefined;
  return {
    pip: PipManager.fromConfig(config, env, { ...(wheelCache ? { wheelCache } : {}), ...(log ? { log: log.child({ component: 'pip' }) } : {}) }),
    conda: CondaManager.fromConfig(config, env),
  };
}

/**
 * Why a processor's environment must not be used, as its manager judges it (a `python` not allowed, an environment
 * that leads out of the folder); undefined when it may be used or the type has no manager. The catalog reports it.
 */
export function environmentProblemOf(managers: ManagerRegistry): (processor: Processor, folder: string) => string | undefined {
  return (processor, folder) => {
    const kind = managerKindOf(processor.type);
    return kind ? managers[kind]?.environmentProblem?.({ processor, folder }) : undefined;
  };
}
