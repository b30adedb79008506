import type { ManagerVersion, PackagesInfo } from '../domain/packages.ts';
import type { ManagerKind, Processor } from '../domain/processor.ts';
import type { UpdateCommand } from '../domain/update-command.ts';

/** The environment a manager works on: a processor and its folder on this node. */
export interface Environment {
  processor: Processor;
  folder: string;
}

/** How one manager call runs: cancellable, time-limited, its output kept line by line. */
export interface RunContext {
  signal?: AbortSignal;
  timeoutMs?: number;
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Each process the manager starts (its own process-group leader), so that a crash can clean up after it. */
  onSpawn?: (pid: number) => void;
}

/**
 * A package manager behind one interface (as renovate's `lib/modules/manager/types.ts`): one folder per manager,
 * chosen by processor type through the registry. Optional members are capabilities a manager may lack.
 */
export interface PackageManager {
  readonly kind: ManagerKind;
  /** Whether the processor's environment exists already (a read must not create one). */
  hasEnvironment?(env: Environment): boolean;
  /** Why the processor's environment must not be used (it leads out of the processor folder, …); undefined if it may. */
  environmentProblem?(env: Environment): string | undefined;
  /** `pip --version` / `conda --version`, as WASDI's PackageManagerViewModel. */
  version(env: Environment, ctx?: RunContext): Promise<ManagerVersion>;
  /** The content of packagesInfo.json in WASDI's form for this manager (pip: outdated+uptodate, conda: all). */
  snapshot?(env: Environment, ctx?: RunContext): Promise<PackagesInfo>;
  /** Runs the commands in order; throws when the manager reports a failure. */
  apply?(env: Environment, commands: UpdateCommand[], ctx?: RunContext): Promise<void>;
  /** Orders two versions of a package (negative, 0, positive); undefined when this manager cannot order them. */
  compareVersions?(a: string, b: string): number | undefined;
  /** Whether a package exists in the configured index; undefined when no index can be asked. */
  packageExists?(name: string, ctx?: RunContext): Promise<boolean | undefined>;
}

export type ManagerRegistry = Partial<Record<ManagerKind, PackageManager>>;
