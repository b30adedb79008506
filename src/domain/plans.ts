import { diffGenerations, generationHash, packageKey, type GenerationPackage, type PackageChange, type VersionOrder } from './generations.ts';
import type { ManagerKind } from './processor.ts';
import { formatUpdateCommand, type UpdateCommand } from './update-command.ts';

/**
 * Plans: the whole change a set of commands would make to an environment, computed before anything runs (pip's and
 * conda's own dry runs), with the generation it was computed on. A plan runs only while the environment is still
 * that generation.
 */

/** What a plan would do to the package set, each list in canonical order. */
export interface PlanChanges {
  added: GenerationPackage[];
  removed: GenerationPackage[];
  upgraded: PackageChange[];
  downgraded: PackageChange[];
  /** Another version the manager cannot order against the first, or another build or channel. */
  changed: PackageChange[];
  /** Removals: dependencies that nothing left would need any more (they stay installed; a plan only names them). */
  orphaned: GenerationPackage[];
}

export interface Plan {
  /** Unguessable: whoever has the id and write permission on the processor can execute it. */
  planId: string;
  processorName: string;
  manager: ManagerKind;
  /** The canonical update commands the plan runs (a restore's are exact pins). */
  commands: string[];
  /** The generation the plan was computed on, and its hash. */
  generation: number;
  hash: string;
  /** The hash the package set would have afterwards, when the plan can know it (a restore: always). */
  resultHash?: string;
  /** The commands are exact pins installed without dependencies (a restore). */
  exact: boolean;
  /** A restore: the generation it brings back. */
  restoreOf?: number;
  changes: PlanChanges;
  createdBy: string;
  /** ms since the epoch */
  createdAt: number;
  expiresAt: number;
}

/** What a manager's dry run predicts: the package set afterwards, and what removals would leave orphaned. */
export interface DryRun {
  packages: GenerationPackage[];
  orphaned: GenerationPackage[];
}

/** The change from `before` to `after` as a plan shows it. */
export function planChanges(kind: ManagerKind, before: readonly GenerationPackage[], after: DryRun, order: VersionOrder): PlanChanges {
  const d = diffGenerations(kind, generationOf(before), generationOf(after.packages), order);
  return { added: d.added, removed: d.removed, upgraded: d.upgraded, downgraded: d.downgraded, changed: d.changed, orphaned: after.orphaned };
}

function generationOf(packages: readonly GenerationPackage[]) {
  return { number: 0, hash: '', packages: [...packages] } as Parameters<typeof diffGenerations>[1];
}

/**
 * The exact commands that take the package set `current` to `target`: each package `target` has in another
 * version (or `current` lacks) pinned to its version, each package `target` lacks removed; installs first, then
 * removals, each list in canonical order. Run with `exact` (no dependencies), they leave exactly `target`.
 * pip itself is never removed (procenv could not manage the environment any more); a target without pip keeps it.
 */
export function exactCommands(kind: ManagerKind, current: readonly GenerationPackage[], target: readonly GenerationPackage[]): UpdateCommand[] {
  const now = new Map(current.map((p) => [packageKey(kind, p.name), p]));
  const want = new Map(target.map((p) => [packageKey(kind, p.name), p]));
  const installs: UpdateCommand[] = [];
  const removals: UpdateCommand[] = [];
  for (const [key, p] of [...want].sort(byKey)) {
    const had = now.get(key);
    if (!had) installs.push({ action: 'addPackage', name: p.name, version: p.version });
    else if (had.version !== p.version || had.build !== p.build || had.channel !== p.channel) installs.push({ action: 'upgradePackage', name: p.name, version: p.version });
  }
  for (const [key, p] of [...now].sort(byKey)) {
    if (want.has(key) || (kind === 'pip' && key === 'pip')) continue;
    removals.push({ action: 'removePackage', name: p.name });
  }
  return [...installs, ...removals];
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** The package set `exactCommands` leaves, and its hash: `target`, with pip kept when the target has none. */
export function exactResult(kind: ManagerKind, current: readonly GenerationPackage[], target: readonly GenerationPackage[]): { packages: GenerationPackage[]; hash: string } {
  const keys = new Set(target.map((p) => packageKey(kind, p.name)));
  const kept = kind === 'pip' && !keys.has('pip') ? current.filter((p) => packageKey(kind, p.name) === 'pip') : [];
  const packages = [...target, ...kept];
  return { packages, hash: generationHash(kind, packages) };
}

export function formatCommands(commands: readonly UpdateCommand[]): string[] {
  return commands.map(formatUpdateCommand);
}

/**
 * Dependencies that removing `removed` would leave with nothing needing them: reachable from the removed packages
 * through `requires`, not asked for themselves (`requested` false), and not reachable from any package that stays
 * and is a root (asked for, or not known to be a dependency). Keys are package keys; `requires` maps a key to the
 * keys it needs (markers already evaluated).
 */
export function orphansOf(kind: ManagerKind, after: readonly GenerationPackage[], removed: readonly GenerationPackage[],
  requires: ReadonlyMap<string, readonly string[]>): GenerationPackage[] {
  const present = new Map(after.map((p) => [packageKey(kind, p.name), p]));
  const closure = (starts: Iterable<string>, within: (key: string) => boolean): Set<string> => {
    const seen = new Set<string>();
    const stack = [...starts];
    while (stack.length) {
      const key = stack.pop()!;
      for (const dep of requires.get(key) ?? []) {
        if (!seen.has(dep) && within(dep)) {
          seen.add(dep);
          stack.push(dep);
        }
      }
    }
    return seen;
  };
  const roots = [...present].filter(([, p]) => p.requested !== false).map(([key]) => key);
  const needed = closure(roots, (k) => present.has(k));
  for (const r of roots) needed.add(r);
  const fromRemoved = closure(removed.map((p) => packageKey(kind, p.name)), (k) => present.has(k));
  return [...fromRemoved].filter((k) => !needed.has(k)).sort().map((k) => present.get(k)!);
}
