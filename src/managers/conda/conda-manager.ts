import type { Config } from '../../config/schema.ts';
import type { ManagerVersion } from '../../domain/packages.ts';
import type { Environment, PackageManager } from '../types.ts';

/** Placeholder until the conda manager lands. */
export class CondaManager implements PackageManager {
  readonly kind = 'conda' as const;
  static fromConfig(_config: Config, _env: NodeJS.ProcessEnv): CondaManager {
    return new CondaManager();
  }
  async version(_env: Environment): Promise<ManagerVersion> {
    throw new Error('conda manager not implemented yet');
  }
}
