import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  canonicalPackages, generationHash, packageKey, summaryOf, type Generation, type GenerationDraft, type GenerationPackage, type GenerationSummary,
} from '../domain/generations.ts';

/**
 * How both store adapters keep generations small: a generation's package set is stored either whole, as a
 * content-addressed package set shared by every generation and processor that has exactly that set (a keyframe), or
 * as the difference from the generation before it. A chain holds at most CHAIN_LENGTH generations, so reading any
 * generation reads one package set and at most CHAIN_LENGTH − 1 differences (one range query). A change of a few
 * packages then costs a few package entries instead of the whole set; see the README ("Generations") for figures.
 */

/** A keyframe and the differences after it: at most this many generations per chain. */
export const CHAIN_LENGTH = 16;

/** What changed against the generation before: packages that are new or differ in any field, and keys that went. */
export interface PackageDelta {
  put: GenerationPackage[];
  drop: string[];
}

/** A generation as the adapters store it: the summary, and where its package set is. */
export interface StoredGeneration extends GenerationSummary {
  /** The number of the keyframe its chain starts at (its own number when it is one). */
  base: number;
  /** Keyframe: the key of its whole package set in the shared package sets. */
  setKey?: string;
  /** Not a keyframe: the difference from generation `number − 1`. */
  delta?: PackageDelta;
}

/** The key of a whole package set: sha256 of its JSON (the `requested` flags included, unlike the generation hash). */
export function setKeyOf(packages: readonly GenerationPackage[]): string {
  return createHash('sha256').update(JSON.stringify(packages)).digest('hex');
}

/**
 * A whole package set as stored: its JSON, deflated. Field names and version shapes repeat, so this keeps a quarter
 * of the bytes or less (300 packages: 18.5 KB of JSON, 4.2 KB stored; bench/generations.ts), for well under a
 * millisecond per chain written or read.
 */
export function encodePackageSet(packages: readonly GenerationPackage[]): Buffer {
  return deflateRawSync(JSON.stringify(packages));
}

export function decodePackageSet(stored: Uint8Array): GenerationPackage[] {
  return JSON.parse(inflateRawSync(stored).toString('utf8')) as GenerationPackage[];
}

function same(a: GenerationPackage, b: GenerationPackage): boolean {
  return a.version === b.version && a.build === b.build && a.channel === b.channel && a.requested === b.requested;
}

function deltaOf(draft: GenerationDraft, previous: readonly GenerationPackage[]): PackageDelta {
  const kind = draft.manager.kind;
  const before = new Map(previous.map((p) => [packageKey(kind, p.name), p]));
  const put: GenerationPackage[] = [];
  for (const p of draft.packages) {
    const key = packageKey(kind, p.name);
    const old = before.get(key);
    before.delete(key);
    if (!old || !same(old, p) || old.name !== p.name) put.push(p);
  }
  return { put, drop: [...before.keys()] };
}

/**
 * The record to store for `draft` as generation `number`, after `latest` (whose whole package set is `latestPackages`),
 * and the package set to store with it when it starts a chain. A chain starts at a processor's first generation,
 * when the chain before is full, and when the difference would be more than a quarter of the set (then it saves
 * little and costs reading).
 */
export function planStorage(draft: GenerationDraft, number: number, latest?: { stored: StoredGeneration; packages: readonly GenerationPackage[] }):
  { record: StoredGeneration; set?: { key: string; packages: GenerationPackage[] } } {
  const summary = summaryOf({ ...draft, number });
  if (latest && number - latest.stored.base < CHAIN_LENGTH) {
    const delta = deltaOf(draft, latest.packages);
    if (delta.put.length + delta.drop.length <= Math.max(8, draft.packages.length / 4)) {
      return { record: { ...summary, base: latest.stored.base, delta } };
    }
  }
  const key = setKeyOf(draft.packages);
  return { record: { ...summary, base: number, setKey: key }, set: { key, packages: draft.packages } };
}

/**
 * The whole package set of the last record of `chain` (its keyframe first, then each generation after it in order),
 * from the keyframe's package set. Checked against the generation's hash: a store that answers something else
 * fails loudly instead of serving another environment as this one.
 */
export function materialize(chain: readonly StoredGeneration[], keyframe: readonly GenerationPackage[]): GenerationPackage[] {
  const last = chain.at(-1);
  if (!last) throw new Error('a generation chain cannot be empty');
  const kind = last.manager.kind;
  const set = new Map(keyframe.map((p) => [packageKey(kind, p.name), p]));
  for (const g of chain.slice(1)) {
    for (const key of g.delta?.drop ?? []) set.delete(key);
    for (const p of g.delta?.put ?? []) set.set(packageKey(kind, p.name), p);
  }
  const packages = canonicalPackages(kind, [...set.values()]);
  if (generationHash(kind, packages) !== last.hash) {
    throw new Error(`generation ${last.number} of processor "${last.processorName}" does not match its hash in the store`);
  }
  return packages;
}

/** The public summary of a stored generation (without where its packages are). */
export function publicSummary(g: StoredGeneration): GenerationSummary {
  const { base, setKey, delta, ...summary } = g;
  return summary;
}

export function withPackages(g: StoredGeneration, packages: GenerationPackage[]): Generation {
  return { ...publicSummary(g), packages };
}
