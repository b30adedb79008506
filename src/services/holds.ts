import type { ProcessorCatalog } from '../catalog/catalog.ts';
import { ConflictError, InvalidInputError, NotFoundError, WrongNodeError } from '../domain/errors.ts';
import { holdKey, MAX_HOLD_REASON, type Hold } from '../domain/holds.ts';
import { mergePackages } from '../domain/packages.ts';
import { managerKindOf, type ManagerKind, type Processor } from '../domain/processor.ts';
import { formatUpdateCommand, isValidPackageName, type UpdateCommand } from '../domain/update-command.ts';
import type { Caller } from '../domain/user.ts';
import type { Store } from '../store/types.ts';
import type { EnvironmentService } from './environments.ts';

/**
 * Holds: a package of a processor that no change may upgrade, downgrade or remove. Placed and lifted on the main
 * node (write permission), read with read permission; compute nodes take the main node's with its history (sync).
 * A change that would move a held package is refused before it is queued (409 PACKAGE_HELD); pip also gets every
 * held package pinned at its installed version as a constraint, so that no dependency resolution moves it either.
 */
export class HoldService {
  constructor(private readonly o: {
    store: Store;
    environments: Pick<EnvironmentService, 'processorForRead' | 'processorForWrite'>;
    catalog: Pick<ProcessorCatalog, 'readPackagesInfo'>;
    isMainNode: boolean;
  }) {}

  async list(caller: Caller, name: string): Promise<Hold[]> {
    await this.o.environments.processorForRead(caller, name);
    return this.o.store.listHolds(name);
  }

  /** Places (or replaces) a hold; answers it and whether it is new. */
  async put(caller: Caller, name: string, pkg: string, body: unknown): Promise<{ hold: Hold; created: boolean }> {
    const { processor, kind } = await this.writable(caller, name);
    if (!isValidPackageName(pkg, kind)) throw new InvalidInputError('INVALID_PACKAGE_NAME', `"${pkg.slice(0, 80)}" is not a valid ${kind} package name`);
    const reason = (body as { reason?: unknown } | undefined)?.reason;
    if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_HOLD_REASON) {
      throw new InvalidInputError('INVALID_BODY', `give { "reason": "…" }: why the package is held, 1 to ${MAX_HOLD_REASON} characters`);
    }
    const key = holdKey(kind, pkg);
    const existing = (await this.o.store.listHolds(processor.name)).find((h) => h.key === key);
    const version = this.installed(processor.name, kind).get(key);
    const hold: Hold = {
      processorName: processor.name, package: pkg.replace(/\[.*\]$/, ''), key, reason: reason.trim(), userId: caller.userId,
      createdAt: Date.now(), ...(version !== undefined ? { version } : {}),
    };
    await this.o.store.saveHold(hold);
    return { hold, created: !existing };
  }

  async remove(caller: Caller, name: string, pkg: string): Promise<void> {
    const { processor, kind } = await this.writable(caller, name);
    if (!(await this.o.store.removeHold(processor.name, holdKey(kind, pkg)))) {
      throw new NotFoundError('HOLD_NOT_FOUND', `"${pkg.slice(0, 80)}" is not held on processor "${processor.name}"`);
    }
  }

  /**
   * Refuses commands that would move a held package: an upgrade or a removal of it, or an add of another version
   * than the one installed (an add without a version of a package that is there changes nothing, and passes).
   */
  async check(processor: Processor, commands: readonly UpdateCommand[]): Promise<void> {
    const kind = managerKindOf(processor.type);
    if (!kind || commands.length === 0) return;
    const holds = new Map((await this.o.store.listHolds(processor.name)).map((h) => [h.key, h]));
    if (holds.size === 0) return;
    const installed = this.installed(processor.name, kind);
    for (const command of commands) {
      const hold = holds.get(holdKey(kind, command.name));
      if (!hold) continue;
      const now = installed.get(hold.key);
      const moves = command.action !== 'addPackage' || (command.version !== undefined && command.version !== now) || (command.version === undefined && now === undefined);
      if (!moves) continue;
      throw new ConflictError('PACKAGE_HELD', `${hold.package} is held on processor "${processor.name}" by ${hold.userId}: ${hold.reason}; ${formatUpdateCommand(command)} would ${command.action === 'removePackage' ? 'remove' : 'change'} it`, {
        details: { hold, updateCommand: formatUpdateCommand(command) },
      });
    }
  }

  /** pip: each held package that is installed, as `name==version`, for pip's `--constraint`. */
  async constraints(name: string, kind: ManagerKind): Promise<string[]> {
    const holds = await this.o.store.listHolds(name);
    if (holds.length === 0) return [];
    const installed = this.installed(name, kind);
    return holds.flatMap((h) => (installed.has(h.key) ? [`${h.package}==${installed.get(h.key)}`] : []));
  }

  /** The installed versions by package key, from packagesInfo.json. */
  private installed(name: string, kind: ManagerKind): Map<string, string> {
    const info = this.o.catalog.readPackagesInfo(name);
    return new Map(info ? mergePackages(info).filter((p) => typeof p.packageName === 'string' && p.currentVersion).map((p) => [holdKey(kind, p.packageName), p.currentVersion!]) : []);
  }

  private async writable(caller: Caller, name: string): Promise<{ processor: Processor; kind: ManagerKind }> {
    if (!this.o.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'holds are placed and lifted on the main node; compute nodes follow its holds');
    const processor = await this.o.environments.processorForRead(caller, name);
    await this.o.environments.processorForWrite(caller, processor);
    const kind = managerKindOf(processor.type);
    if (!kind) throw new InvalidInputError('NO_PACKAGE_MANAGER', `processor type "${processor.type}" has no package manager`);
    return { processor, kind };
  }
}
