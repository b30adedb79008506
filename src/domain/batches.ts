import { InvalidInputError } from './errors.ts';
import { packageKey } from './generations.ts';
import type { OperationError, OperationStatus } from './operation.ts';
import type { ManagerKind } from './processor.ts';
import { parseSchedule, type ScheduleRequest } from './schedules.ts';
import { isValidPackageName, isValidVersion, type UpdateCommand } from './update-command.ts';

/**
 * A batch: one change asked of many processors at once (Landscape's activities on a query of computers, the fleet
 * API's "execute updates"). Each processor's part is one ordinary operation through the queue, so one change at a
 * time per processor still holds; the batch keeps which operation each processor got, or why it got none.
 */
export const BATCH_ACTIONS = ['upgrade-all', 'security', 'install', 'upgrade', 'remove'] as const;
export type BatchAction = (typeof BATCH_ACTIONS)[number];

/** Most processors one batch may name, and most packages it may list. */
export const MAX_BATCH_PROCESSORS = 1000;
export const MAX_BATCH_PACKAGES = 50;

export interface PackageSpec {
  name: string;
  version?: string;
}

export interface BatchRequest {
  processors: string[] | 'all';
  action: BatchAction;
  packages: PackageSpec[];
  removeDependencies: boolean;
  /** When its operations may start, as POST /processors/{name}/operations takes it (domain/schedules.ts). */
  schedule?: ScheduleRequest;
}

/** One processor's outcome when the batch was made. */
export interface BatchResult {
  processor: string;
  /** The operation queued for it (the first, when its part needed more than one). */
  operationId?: string;
  operationIds?: string[];
  /** The commands queued. */
  commands?: string[];
  /** Why nothing was queued although the caller may change it (nothing to upgrade, not installed, …). */
  skipped?: string;
  /** Why it may not be changed by this caller, or why its operation was refused. */
  refused?: OperationError;
  /** Packages left alone because they are held, not installed, or (security) have no fixed version. */
  held?: string[];
  notInstalled?: string[];
  unfixable?: string[];
  /** removeDependencies: the dependencies removed with the packages. */
  orphans?: string[];
}

export interface Batch {
  batchId: string;
  userId: string;
  /** ms since the epoch */
  createdAt: number;
  action: BatchAction;
  /** As the caller asked: a list of names, or every processor it can write. */
  processors: string[] | 'all';
  packages: PackageSpec[];
  removeDependencies: boolean;
  schedule?: ScheduleRequest;
  /** One per processor, in processor-name order. */
  results: BatchResult[];
  /** Set when the batch was cancelled (ms), with who did it. */
  cancelledAt?: number;
  cancelledBy?: string;
}

/** The progress of a batch: its operations' states counted, and each processor's with its nodes'. */
export interface BatchProgress {
  total: number;
  queued: number;
  skipped: number;
  refused: number;
  byStatus: Record<OperationStatus, number>;
  /** true once no operation of the batch can start or is running. */
  finished: boolean;
}

const KNOWN_FIELDS = new Set(['processors', 'action', 'packages', 'removeDependencies', 'deliverAfter', 'deliverDelayWindowMinutes', 'window']);

/** Reads the body of POST /batches; anything malformed is a 400 that says what to send. */
export function parseBatchRequest(body: unknown): BatchRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError('INVALID_BODY', 'the body must be a JSON object: { "processors": [names] | "all", "action": "upgrade-all" | "security" | "install" | "upgrade" | "remove", "packages"?: […] }');
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !KNOWN_FIELDS.has(k));
  if (unknown.length > 0) throw new InvalidInputError('INVALID_BODY', `unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);

  if (typeof b.action !== 'string' || !(BATCH_ACTIONS as readonly string[]).includes(b.action)) {
    throw new InvalidInputError('INVALID_ACTION', `"action" must be one of ${BATCH_ACTIONS.join(', ')}`);
  }
  const action = b.action as BatchAction;

  let processors: string[] | 'all';
  if (b.processors === 'all') processors = 'all';
  else if (Array.isArray(b.processors)) {
    if (b.processors.length === 0) throw new InvalidInputError('INVALID_PROCESSORS', '"processors" is empty: name at least one processor, or send "all"');
    if (b.processors.length > MAX_BATCH_PROCESSORS) throw new InvalidInputError('INVALID_PROCESSORS', `at most ${MAX_BATCH_PROCESSORS} processors per batch`);
    if (!b.processors.every((p) => typeof p === 'string' && p !== '' && p.length <= 200)) {
      throw new InvalidInputError('INVALID_PROCESSORS', '"processors" must be a list of processor names (1 to 200 characters each)');
    }
    processors = [...new Set(b.processors as string[])].sort(byName);
  } else {
    throw new InvalidInputError('INVALID_PROCESSORS', 'give "processors": a list of processor names, or "all" for every processor you can change');
  }

  const needsPackages = action === 'install' || action === 'upgrade' || action === 'remove';
  let packages: PackageSpec[] = [];
  if (b.packages !== undefined) {
    if (!needsPackages) throw new InvalidInputError('INVALID_BODY', `"${action}" takes no "packages": it works out the packages of each processor itself`);
    if (!Array.isArray(b.packages) || !b.packages.every((p) => typeof p === 'string')) {
      throw new InvalidInputError('INVALID_PACKAGES', '"packages" must be a list of strings: "name" or "name==version"');
    }
    if (b.packages.length > MAX_BATCH_PACKAGES) throw new InvalidInputError('INVALID_PACKAGES', `at most ${MAX_BATCH_PACKAGES} packages per batch`);
    packages = (b.packages as string[]).map((text) => parsePackageSpec(text, action));
  }
  if (needsPackages && packages.length === 0) throw new InvalidInputError('INVALID_PACKAGES', `"${action}" needs "packages": a non-empty list of "name" or "name==version"`);
  const keys = packages.map((p) => p.name.toLowerCase().replace(/[-_.]+/g, '-'));
  if (new Set(keys).size !== keys.length) throw new InvalidInputError('INVALID_PACKAGES', '"packages" names a package twice');

  if (b.removeDependencies !== undefined && typeof b.removeDependencies !== 'boolean') throw new InvalidInputError('INVALID_BODY', '"removeDependencies" must be true or false');
  const removeDependencies = b.removeDependencies === true;
  if (removeDependencies && action !== 'remove') throw new InvalidInputError('INVALID_BODY', '"removeDependencies" goes with the "remove" action only');

  const schedule = parseSchedule(b);
  return { processors, action, packages, removeDependencies, ...(schedule ? { schedule } : {}) };
}

/** `name` or `name==version` (a version only for install and upgrade); checked for both managers' syntax. */
function parsePackageSpec(text: string, action: BatchAction): PackageSpec {
  const at = text.indexOf('==');
  const name = (at < 0 ? text : text.slice(0, at)).trim();
  const version = at < 0 ? undefined : text.slice(at + 2).trim();
  const shown = JSON.stringify(text.slice(0, 80));
  if (!isValidPackageName(name, 'pip') && !isValidPackageName(name, 'conda')) throw new InvalidInputError('INVALID_PACKAGES', `${shown} is not a package name`);
  if (version !== undefined) {
    if (action === 'remove') throw new InvalidInputError('INVALID_PACKAGES', `${shown}: a removal takes a name, not a version`);
    if (!isValidVersion(version, 'pip') && !isValidVersion(version, 'conda')) throw new InvalidInputError('INVALID_PACKAGES', `${shown}: "${version.slice(0, 40)}" is not a version`);
  }
  return version === undefined ? { name } : { name, version };
}

/** One installed package as a processor's packagesInfo.json has it. */
export interface InstalledPackage {
  name: string;
  version: string;
  /** A newer version, for an outdated package. */
  latest?: string;
}

/** A security update a processor's package can take: the lowest version that clears its advisories, if one does. */
export interface SecurityFix {
  package: string;
  /** The advisories (ids) that affect the installed version. */
  advisories?: string[];
  fixedVersion?: string;
}

/** What one processor gets from a batch: the commands, and what was left out and why. */
export interface ProcessorPart {
  commands: UpdateCommand[];
  held: string[];
  notInstalled: string[];
  unfixable: string[];
}

/**
 * The commands of one processor's part. A held package is never in them (the batch says it was skipped); `upgrade`
 * and `remove` touch only what is installed; `upgrade-all` upgrades every outdated package to the newer version its
 * snapshot names; `security` upgrades each package with advisories to the lowest version that clears them all.
 */
export function partFor(action: BatchAction, kind: ManagerKind, installed: ReadonlyMap<string, InstalledPackage>, heldKeys: ReadonlySet<string>,
  packages: readonly PackageSpec[], fixes: readonly SecurityFix[]): ProcessorPart {
  const part: ProcessorPart = { commands: [], held: [], notInstalled: [], unfixable: [] };
  const keyOf = (name: string) => packageKey(kind, name.replace(/\[.*\]$/, ''));
  switch (action) {
    case 'upgrade-all':
      for (const [key, p] of [...installed].sort(([a], [b]) => byName(a, b))) {
        if (p.latest === undefined) continue;
        if (heldKeys.has(key)) part.held.push(p.name);
        else part.commands.push({ action: 'upgradePackage', name: p.name, version: p.latest });
      }
      break;
    case 'security':
      for (const fix of fixes) {
        if (heldKeys.has(keyOf(fix.package))) part.held.push(fix.package);
        else if (fix.fixedVersion === undefined) part.unfixable.push(fix.package);
        else part.commands.push({ action: 'upgradePackage', name: fix.package, version: fix.fixedVersion });
      }
      break;
    case 'install':
      for (const spec of packages) {
        const now = installed.get(keyOf(spec.name));
        if (now && (spec.version === undefined || spec.version === now.version)) continue; // there already: nothing to do
        if (heldKeys.has(keyOf(spec.name))) part.held.push(spec.name);
        else part.commands.push({ action: 'addPackage', name: spec.name, ...(spec.version !== undefined ? { version: spec.version } : {}) });
      }
      break;
    case 'upgrade':
    case 'remove':
      for (const spec of packages) {
        const now = installed.get(keyOf(spec.name));
        if (!now) part.notInstalled.push(spec.name);
        else if (heldKeys.has(keyOf(spec.name))) part.held.push(now.name);
        else if (action === 'remove') part.commands.push({ action: 'removePackage', name: now.name });
        else if (spec.version !== now.version) part.commands.push({ action: 'upgradePackage', name: now.name, ...(spec.version !== undefined ? { version: spec.version } : {}) });
      }
      break;
  }
  return part;
}

/** Why a processor's part came out empty, in words for the batch's answer. */
export function emptyReason(action: BatchAction, part: ProcessorPart): string {
  if (part.held.length > 0) return `held: ${part.held.join(', ')}`;
  if (part.unfixable.length > 0) return `no version clears the advisories of ${part.unfixable.join(', ')}`;
  if (part.notInstalled.length > 0) return `not installed: ${part.notInstalled.join(', ')}`;
  switch (action) {
    case 'upgrade-all': return 'nothing to upgrade: every package is up to date';
    case 'security': return 'no security update: no installed package has an advisory';
    case 'install': return 'already installed';
    default: return 'nothing to change';
  }
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
