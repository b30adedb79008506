import { advisoryKey, type AdvisoryInfo } from './advisories.ts';
import { InvalidInputError } from './errors.ts';
import { isValidProcessorName } from './processor.ts';

/**
 * An ignore rule: an advisory someone decided does not apply (yet), with why and until when. It hides the advisory
 * (by its id or any alias) from audit answers, on every processor or on one, for every package or one. A rule past
 * its expiry hides nothing, without anything having to remove it.
 */
export interface IgnoreRule {
  id: string;
  /** An advisory id or alias (PYSEC-…, GHSA-…, CVE-…). */
  advisory: string;
  /** Only this package (as spelt; compared as PEP 503 normalises it). */
  package?: string;
  /** Only this processor. */
  processor?: string;
  reason: string;
  userId: string;
  /** ms since the epoch */
  createdAt: number;
  expiresAt: number;
}

/** What a caller sends; the rest is the service's. */
export type IgnoreRuleDraft = Pick<IgnoreRule, 'advisory' | 'package' | 'processor' | 'reason' | 'expiresAt'>;

export const MAX_IGNORE_REASON = 500;
/** A rule is a decision to look at again: at most this far ahead. */
export const MAX_IGNORE_DAYS = 3 * 366;

const FIELDS = new Set(['advisory', 'package', 'processor', 'reason', 'expiresAt']);
const ADVISORY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const PACKAGE_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$/;
/** A date, or a date and time with its zone (a time without a zone would depend on the server's). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

export const IGNORE_RULE_SHAPE = '{ "advisory": "GHSA-…", "package"?: "…", "processor"?: "…", "reason": "…", "expiresAt": "2026-12-31T00:00:00Z" }';

function invalid(message: string): InvalidInputError {
  return new InvalidInputError('INVALID_BODY', `${message}; send ${IGNORE_RULE_SHAPE}`);
}

/** A caller's body → a draft, or 400 INVALID_BODY saying what is wrong. `now`: ms, for the expiry. */
export function parseIgnoreRuleDraft(body: unknown, now: number): IgnoreRuleDraft {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body is not a JSON object');
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw invalid(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
  const { advisory, package: pkg, processor, reason, expiresAt } = record;
  if (typeof advisory !== 'string' || !ADVISORY_ID.test(advisory)) throw invalid('"advisory" must be an advisory id or alias such as GHSA-xxxx-xxxx-xxxx or CVE-2024-1234');
  if (pkg !== undefined && (typeof pkg !== 'string' || !PACKAGE_NAME.test(pkg))) throw invalid('"package", when given, must be a package name');
  if (processor !== undefined && (typeof processor !== 'string' || !isValidProcessorName(processor))) throw invalid('"processor", when given, must be a processor name');
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_IGNORE_REASON) throw invalid(`"reason" must say why, in 1 to ${MAX_IGNORE_REASON} characters`);
  if (typeof expiresAt !== 'string' || !ISO_8601.test(expiresAt) || !Number.isFinite(Date.parse(expiresAt))) {
    throw invalid('"expiresAt" must be an ISO 8601 date or date and time with its zone, such as 2026-12-31 or 2026-12-31T00:00:00Z');
  }
  const expires = Date.parse(expiresAt);
  if (expires <= now) throw invalid('"expiresAt" is not in the future');
  if (expires > now + MAX_IGNORE_DAYS * 86_400_000) throw invalid(`"expiresAt" is more than ${MAX_IGNORE_DAYS} days ahead`);
  return {
    advisory, reason: reason.trim(), expiresAt: expires,
    ...(pkg !== undefined ? { package: pkg as string } : {}),
    ...(processor !== undefined ? { processor: processor as string } : {}),
  };
}

export function isActive(rule: IgnoreRule, now: number): boolean {
  return rule.expiresAt > now;
}

/** Whether an active rule hides this advisory of this package on this processor (id or alias, any case). */
export function hides(rule: IgnoreRule, advisory: AdvisoryInfo, pkg: string, processor: string, now: number): boolean {
  if (!isActive(rule, now)) return false;
  if (rule.processor !== undefined && rule.processor !== processor) return false;
  if (rule.package !== undefined && advisoryKey(rule.package) !== advisoryKey(pkg)) return false;
  const id = rule.advisory.toUpperCase();
  return advisory.id.toUpperCase() === id || advisory.aliases.some((a) => a.toUpperCase() === id);
}
