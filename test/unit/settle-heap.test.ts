import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import test from 'ava';
import { settleHeap } from '../../src/util/settle-heap.ts';

// The service gives back, once its start-up is over, the heap that reading every processor's snapshot grew.

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

/** What a start-up does to the heap: many short-lived parses, a part of them kept. */
function burst(): unknown[] {
  const kept: unknown[] = [];
  for (let i = 0; i < 600; i++) {
    const list = JSON.parse(JSON.stringify(Array.from({ length: 300 }, (_, j) => ({ packageName: `pkg-${i}-${j}`, currentVersion: `${j}.0.0`, latestVersion: null }))));
    if (i % 3 === 0) kept.push(list);
  }
  return kept;
}

// The V8 of Node 22 and later (12.x and up) takes the memory-reducing flavour of a requested collection; Node 20's
// (11.3) does a regular one, which leaves the young generation at its size until V8 shrinks it itself, idle.
const reducing = Number(process.versions.v8.split('.')[0]) >= 12;

test('settleHeap gives the young generation a burst grew back, and leaves no gc function behind', (t) => {
  const kept = burst();
  const grown = newSpace();
  const settled = settleHeap();
  t.truthy(settled, 'the collection ran');
  t.true(settled!.ms >= 0);
  t.is(settled!.newSpaceBefore, grown);
  if (reducing) {
    t.true(settled!.newSpaceAfter < grown / 2, `young generation ${settled!.newSpaceAfter} bytes after, ${grown} before`);
    t.true(settled!.heapAfter < settled!.heapBefore, `heap ${settled!.heapAfter} bytes after, ${settled!.heapBefore} before`);
  } else {
    t.log(`node ${process.version}: no memory-reducing collection on request (V8 ${process.versions.v8}); the young generation is ${settled!.newSpaceAfter} bytes`);
  }
  t.is(kept.length, 200, 'what is still referenced survives it');
  t.is((globalThis as { gc?: unknown }).gc, undefined, 'the global object never gets gc');
  t.is(runInNewContext('typeof gc'), 'undefined', 'contexts made afterwards get no gc either');
});
