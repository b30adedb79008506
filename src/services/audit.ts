import type { SecurityFix } from '../domain/batches.ts';
import { randomUUID } from 'node:crypto';
import { advisoryKey, type AdvisoryDatabase, type AdvisoryInfo, type SecurityTarget } from '../domain/advisories.ts';
import { hides, isActive, parseIgnoreRuleDraft, type IgnoreRule } from '../domain/audit-ignores.ts';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../domain/errors.ts';
import { isValidProcessorName, type ManagerKind, type Processor } from '../domain/processor.ts';
import type { Caller } from '../domain/user.ts';
import type { AdvisoryDatabaseState } from '../fleet/advisory-feed.ts';
import type { AuditIgnoreStore } from '../store/types.ts';
import type { EnvironmentService } from './environments.ts';
import type { InventoryService } from './inventory.ts';

/** One advisory as an audit answer gives it. */
export interface FindingAdvisory extends AdvisoryInfo {
  /** The versions its ranges name as fixed, in PEP 440 order. */
  fixed: string[];
  /** With `ignored=true` only: the active rule that hides it. */
  ignoredBy?: IgnoreRule;
}

/** An installed package that advisories affect. */
export interface Finding {
  package: string;
  manager: ManagerKind;
  version: string;
  advisories: FindingAdvisory[];
  /** The lowest version that clears every advisory counted (not ignored) on this package; absent when none is known. */
  fixedVersion?: string;
}

export interface AuditFilters {
  /** GET /audit: only this processor. */
  processor?: string;
  /** Only this package (any spelling PEP 503 takes for it). */
  package?: string;
  /** Only advisories of these levels (LOW, MODERATE, HIGH, CRITICAL; MEDIUM is MODERATE). */
  severity?: readonly string[];
  /** Show the advisories an active rule hides, marked with it. */
  ignored?: boolean;
}

export interface ProcessorAudit {
  processor: string;
  manager?: ManagerKind;
  database: AdvisoryDatabaseState;
  findings: Finding[];
}

export interface FleetAudit {
  database: AdvisoryDatabaseState;
  /** The processors you can read that have findings, by name. */
  processors: { processor: string; type: string; manager: ManagerKind; findings: Finding[] }[];
  totals: { processors: number; packages: number; advisories: number };
}

/** A rule as GET /audit/ignores lists it: with whether it still hides anything. */
export type IgnoreRuleView = IgnoreRule & { active: boolean };

/** Where the advisories come from (fleet/advisory-feed.ts); absent when no database is configured. */
export interface AdvisorySource {
  current(): AdvisoryDatabase | undefined;
  describe(): AdvisoryDatabaseState;
}

const LEVELS: Record<string, string> = { LOW: 'LOW', MODERATE: 'MODERATE', MEDIUM: 'MODERATE', HIGH: 'HIGH', CRITICAL: 'CRITICAL' };
export const SEVERITY_LEVELS = Object.keys(LEVELS);

/** The level of a severity as an advisory gives it; a CVSS vector has none. */
function levelOf(severity: string | undefined): string | undefined {
  return severity === undefined ? undefined : LEVELS[severity.toUpperCase()];
}

/**
 * The vulnerability audit: every installed package (from the in-memory package index) looked up in the offline
 * advisory database, per processor (read permission) or across the processors the caller can read; and ignore
 * rules, which hide an advisory until they expire (a processor's rule: write permission on it; a rule for every
 * processor: an administrator).
 */
export class AuditService {
  private readonly now: () => number;

  constructor(private readonly o: {
    store: AuditIgnoreStore;
    environments: Pick<EnvironmentService, 'processorForRead' | 'processorForWrite'>;
    inventory: Pick<InventoryService, 'index' | 'readable'>;
    advisories?: AdvisorySource;
    now?: () => number;
  }) {
    this.now = o.now ?? Date.now;
  }

  database(): AdvisoryDatabaseState {
    return this.o.advisories?.describe() ?? { configured: false };
  }

  /** Whether an advisory database is configured (what a security batch needs). */
  get configured(): boolean {
    return this.o.advisories !== undefined;
  }

  /**
   * The security updates of a processor (services/batches.ts `SecurityAdvisor`): each package with advisories that
   * affect its installed version (active rules hide), the advisories, and the lowest version that clears them all.
   */
  async securityFixes(processorName: string): Promise<SecurityFix[]> {
    return (await this.auditProcessor(processorName)).map((f) => ({
      package: f.package, advisories: f.advisories.map((a) => a.id), ...(f.fixedVersion !== undefined ? { fixedVersion: f.fixedVersion } : {}),
    }));
  }

  /** A processor's findings, without permission checks (for procenv's own callers, such as batches); active rules hide. */
  async auditProcessor(processorName: string): Promise<Finding[]> {
    await this.o.inventory.index.refresh();
    return this.findingsOf(processorName, await this.o.store.listIgnoreRules(), {});
  }

  /**
   * The lowest version of a package that clears every advisory affecting the installed version, with those
   * advisories; rules for every processor apply, and those of `processor` when given.
   */
  async securityTarget(pkg: string, installedVersion: string, processor?: string): Promise<SecurityTarget> {
    const database = this.o.advisories?.current();
    if (!database) return { advisories: [] };
    const rules = await this.o.store.listIgnoreRules();
    const now = this.now();
    return database.securityTarget(pkg, installedVersion, (a) => rules.some((r) => hides(r, a, pkg, processor ?? '', now)));
  }

  async processorAudit(caller: Caller, name: string, filters: AuditFilters = {}): Promise<ProcessorAudit> {
    if (!isValidProcessorName(name)) throw new InvalidInputError('INVALID_PROCESSOR_NAME', `"${name.slice(0, 80)}" is not a processor name`);
    const processor = await this.o.environments.processorForRead(caller, name);
    await this.o.inventory.index.refresh();
    const manager = this.o.inventory.index.entry(processor.name)?.manager;
    return {
      processor: processor.name, ...(manager ? { manager } : {}), database: this.database(),
      findings: this.findingsOf(processor.name, await this.o.store.listIgnoreRules(), filters),
    };
  }

  async fleetAudit(caller: Caller, filters: AuditFilters = {}): Promise<FleetAudit> {
    const index = this.o.inventory.index;
    await index.refresh();
    const readable = await this.o.inventory.readable(caller);
    const rules = await this.o.store.listIgnoreRules();
    const processors: FleetAudit['processors'] = [];
    const advisories = new Set<string>();
    let packages = 0;
    const names = index.processors().filter((p) => readable(p) && (filters.processor === undefined || p.name === filters.processor)).map((p) => p.name).sort();
    for (const name of names) {
      const entry = index.entry(name);
      if (!entry) continue;
      const findings = this.findingsOf(name, rules, filters);
      if (findings.length === 0) continue;
      processors.push({ processor: name, type: entry.processor.type, manager: entry.manager, findings });
      packages += findings.length;
      for (const f of findings) for (const a of f.advisories) advisories.add(a.id);
    }
    return { database: this.database(), processors, totals: { processors: processors.length, packages, advisories: advisories.size } };
  }

  private findingsOf(name: string, rules: readonly IgnoreRule[], filters: AuditFilters): Finding[] {
    const database = this.o.advisories?.current();
    const entry = this.o.inventory.index.entry(name);
    if (!database || !entry) return [];
    const now = this.now();
    const active = rules.filter((r) => isActive(r, now) && (r.processor === undefined || r.processor === name));
    const wantedPackage = filters.package === undefined ? undefined : advisoryKey(filters.package);
    const levels = filters.severity && new Set(filters.severity.map((s) => LEVELS[s.toUpperCase()]));
    const findings: Finding[] = [];
    for (const pkg of entry.packages.values()) {
      if (pkg.version === '' || (wantedPackage !== undefined && advisoryKey(pkg.name) !== wantedPackage)) continue;
      const matcher = database.matcher(pkg.name);
      const affecting = matcher?.affecting(pkg.version) ?? [];
      if (!matcher || affecting.length === 0) continue;
      const ruleOf = (a: AdvisoryInfo) => active.find((r) => hides(r, a, pkg.name, name, now));
      const target = matcher.securityTarget(pkg.version, (a) => !ruleOf(a.advisory));
      const shown: FindingAdvisory[] = [];
      for (const a of affecting) {
        const rule = ruleOf(a.advisory);
        if (rule && !filters.ignored) continue;
        const level = levelOf(a.advisory.severity);
        if (levels && (level === undefined || !levels.has(level))) continue;
        shown.push({ ...a.advisory, aliases: [...a.advisory.aliases], fixed: [...a.fixed], ...(rule ? { ignoredBy: rule } : {}) });
      }
      if (shown.length === 0) continue;
      shown.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      findings.push({
        package: pkg.name, manager: entry.manager, version: pkg.version, advisories: shown,
        ...(target.version !== undefined ? { fixedVersion: target.version } : {}),
      });
    }
    return findings.sort((x, y) => (advisoryKey(x.package) < advisoryKey(y.package) ? -1 : 1));
  }

  /** The rules the caller can see: those for every processor, and those of processors it can read (an admin: all). */
  async listIgnoreRules(caller: Caller): Promise<IgnoreRuleView[]> {
    const rules = await this.o.store.listIgnoreRules();
    const now = this.now();
    const readable = new Map<string, boolean>();
    const out: IgnoreRuleView[] = [];
    for (const rule of rules) {
      if (!caller.admin && rule.processor !== undefined) {
        if (!readable.has(rule.processor)) readable.set(rule.processor, await this.canRead(caller, rule.processor));
        if (!readable.get(rule.processor)) continue;
      }
      out.push({ ...rule, active: isActive(rule, now) });
    }
    return out;
  }

  async createIgnoreRule(caller: Caller, body: unknown): Promise<IgnoreRule> {
    const now = this.now();
    const draft = parseIgnoreRuleDraft(body, now);
    let processor: Processor | undefined;
    if (draft.processor !== undefined) {
      processor = await this.o.environments.processorForRead(caller, draft.processor);
      await this.o.environments.processorForWrite(caller, processor);
    } else if (!caller.admin) {
      throw new ForbiddenError('ADMIN_ONLY', 'a rule for every processor is for administrators; name a "processor" you can change');
    }
    const rule: IgnoreRule = {
      id: randomUUID(), advisory: draft.advisory, ...(draft.package !== undefined ? { package: draft.package } : {}),
      ...(processor ? { processor: processor.name } : {}), reason: draft.reason, userId: caller.userId, createdAt: now, expiresAt: draft.expiresAt,
    };
    await this.o.store.saveIgnoreRule(rule);
    return rule;
  }

  /** Removes a rule: the same right as making it; a rule the caller cannot see is not found. */
  async removeIgnoreRule(caller: Caller, id: string): Promise<void> {
    const notFound = () => new NotFoundError('IGNORE_RULE_NOT_FOUND', `no ignore rule "${id.slice(0, 80)}"`);
    const rule = id.length <= 100 ? await this.o.store.findIgnoreRule(id) : undefined;
    if (!rule) throw notFound();
    if (!caller.admin) {
      if (rule.processor === undefined) throw new ForbiddenError('ADMIN_ONLY', 'a rule for every processor is removed by an administrator');
      if (!(await this.canRead(caller, rule.processor))) throw notFound();
      await this.o.environments.processorForWrite(caller, await this.o.environments.processorForRead(caller, rule.processor));
    }
    if (!(await this.o.store.removeIgnoreRule(id))) throw notFound();
  }

  private async canRead(caller: Caller, name: string): Promise<boolean> {
    try {
      await this.o.environments.processorForRead(caller, name);
      return true;
    } catch (err) {
      if (err instanceof ForbiddenError) return false;
      throw err;
    }
  }
}
