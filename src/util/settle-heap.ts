import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What one settling collection did: its pause and the heap V8 holds (all spaces, in bytes) before and after. */
export interface HeapSettled {
  ms: number;
  heapBefore: number;
  heapAfter: number;
  newSpaceBefore: number;
  newSpaceAfter: number;
}

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

function heapSizes(): { heap: number; newSpace: number } {
  let heap = 0;
  let newSpace = 0;
  for (const space of getHeapSpaceStatistics()) {
    heap += space.space_size;
    if (space.space_name === 'new_space') newSpace = space.space_size;
  }
  return { heap, newSpace };
}

/**
 * One memory-reducing full collection, for the end of a burst the process will not repeat: the service's start-up,
 * which reads and parses every processor's snapshot (1,000 × 300 packages in about a second). During such a burst
 * V8 grows the young generation to its largest (16 MB on Node 20, 32 MB and more on Node 24) and never gives it
 * back while the service then idles at a low allocation rate: that, and the old generation's pages left half-empty,
 * was a third of the service's RSS after start-up. The collection compacts the old generation and shrinks the young
 * one to what the service uses; V8 grows it again under load as it would. It pauses the service once, for about
 * 50 ms after 1,000 processors.
 *
 * Node exposes such a collection only through `--expose-gc`; it is turned on for the moment of one call, in a
 * context of its own (the service's global object never gets a `gc`), then off again. Returns undefined where the
 * flag cannot be set.
 */
export function settleHeap(): HeapSettled | undefined {
  const before = heapSizes();
  const started = performance.now();
  const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  let gc: GcFunction;
  try {
    if (!exposed) setFlagsFromString('--expose-gc');
    gc = exposed ? (globalThis as unknown as { gc: GcFunction }).gc : runInNewContext('gc') as GcFunction;
  } catch {
    return undefined;
  } finally {
    if (!exposed) setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc !== 'function') return undefined;
  // 'last-resort' is V8's memory-reducing collection (as when an allocation is about to fail): it compacts and
  // shrinks the young generation, which a regular full collection leaves at its size.
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const after = heapSizes();
  return { ms: performance.now() - started, heapBefore: before.heap, heapAfter: after.heap, newSpaceBefore: before.newSpace, newSpaceAfter: after.newSpace };
}
