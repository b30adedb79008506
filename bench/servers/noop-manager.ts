import type { ManagerVersion, PackagesInfo } from '../../src/domain/packages.ts';
import type { ManagerKind } from '../../src/domain/processor.ts';
import type { Environment, ManagerRegistry, PackageManager, RunContext } from '../../src/managers/types.ts';
import type { UpdateCommand } from '../../src/domain/update-command.ts';

/** The version the no-op manager reports, so that a benchmark can check that its snapshot reached the file. */
export const NOOP_VERSION: ManagerVersion = { name: 'noop', version: '1.0.0', major: 1, minor: 0, patch: 0 };

/**
 * A package manager that does nothing, at once: what remains of an operation is procenv's own path (the HTTP
 * request, the store, the worker's claim and lease, the log, envActionsList.txt and packagesInfo.json). `apply`
 * reports each command on the operation log as a real manager would; `snapshot` answers a two-package list.
 * It has no `packageExists`, so the request path does not ask any index, as with pip without an index configured.
 */
export class NoopManager implements PackageManager {
  readonly kind: ManagerKind;

  constructor(kind: ManagerKind) {
    this.kind = kind;
  }

  hasEnvironment(): boolean {
    return true;
  }

  async version(): Promise<ManagerVersion> {
    return NOOP_VERSION;
  }

  async snapshot(): Promise<PackagesInfo> {
    return {
      packageManager: NOOP_VERSION,
      outdated: [{ managerName: this.kind, packageName: 'noop-old', currentVersion: '1.0', latestVersion: '2.0', type: 'wheel' }],
      uptodate: [{ managerName: this.kind, packageName: 'noop', currentVersion: NOOP_VERSION.version! }],
    };
  }

  async apply(env: Environment, commands: UpdateCommand[], ctx?: RunContext): Promise<void> {
    for (const c of commands) {
      ctx?.onLine?.('stdout', `noop ${c.action} ${c.name}${c.version ? `==${c.version}` : ''} in ${env.processor.name}`);
    }
  }
}

export function noopManagers(): ManagerRegistry {
  return { pip: new NoopManager('pip'), conda: new NoopManager('conda') };
}
