import type { GenerationPackage } from '../domain/generations.ts';
import type { ManagerVersion, PackagesInfo } from '../domain/packages.ts';
import type { DryRun } from '../domain/plans.ts';
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
  apply?(env: Environment, commands: UpdateCommand[], ctx?: RunContext, options?: ApplyOptions): Promise<void>;
  /**
   * The manager's own dry run of the commands against the installed set `installed`: the package set afterwards,
   * dependencies included, and what removals would leave orphaned. Changes nothing.
   */
  dryRun?(env: Environment, commands: UpdateCommand[], installed: readonly GenerationPackage[], ctx?: RunContext): Promise<DryRun>;
  /** Keeps the distributions of a package set for later restores (the wheel cache), in the background. */
  keepPackages?(env: Environment, packages: readonly GenerationPackage[]): void;
  /** Orders two versions of a package (negative, 0, positive); undefined when this manager cannot order them. */
  compareVersions?(a: string, b: string): number | undefined;
  /** Whether a package exists in the configured index; undefined when no index can be asked. */
  packageExists?(name: string, ctx?: RunContext): Promise<boolean | undefined>;
}

export interface ApplyOptions {
  /** Exact pins of a package set: each installed without its dependencies (a restore, a rollback). */
  exact?: boolean;
  /** `name==version` requirements no install may move (held packages), as pip's `--constraint`. */
  constraints?: readonly string[];
}

export type ManagerRegistry = Partial<Record<ManagerKind, PackageManager>>;
