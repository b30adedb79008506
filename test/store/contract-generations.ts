import type { EventDraft } from '../../src/domain/events.ts';
import type { GenerationSummary } from '../../src/domain/generations.ts';
import type { Emit } from '../../src/store/types.ts';
import { type OpenStore, T0, generationDraft, pipPackages, storeTest } from './builders.ts';

const recorded: Emit<GenerationSummary> = (g) => [{ type: 'generation.recorded', at: g.at, processor: g.processorName, data: { generation: g } } satisfies EventDraft];

/** Generations: numbered per processor, an unchanged set recorded once, every package set found again whole. */
export function generationContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'generations are numbered from 1 per processor, and an unchanged set records nothing', async (t, store) => {
    const a = generationDraft('alpha', pipPackages(5));
    const first = await store.saveGeneration(a);
    t.true(first.created);
    t.like(first.generation, { processorName: 'alpha', number: 1, hash: a.hash, packageCount: 5, cause: 'operation', operationId: 'op-1', userId: 'owner', at: T0 });
    t.false('packages' in first.generation, 'a summary carries no package set');
    const again = await store.saveGeneration({ ...a, at: T0 + 1, cause: 'disk', operationId: undefined });
    t.false(again.created);
    t.deepEqual(again.generation, first.generation, 'the newest generation is answered as it was');
    const b = generationDraft('alpha', pipPackages(5, { 'pkg-001': '2.0' }), { at: T0 + 2 });
    t.like((await store.saveGeneration(b)).generation, { number: 2, hash: b.hash });
    t.like((await store.saveGeneration(generationDraft('beta', pipPackages(5)))).generation, { processorName: 'beta', number: 1 });
    // Back to the first set: a new state in time, so a new generation with the first one's hash.
    t.like((await store.saveGeneration({ ...a, at: T0 + 3 })).generation, { number: 3, hash: a.hash });
    t.like(await store.findLatestGeneration('alpha'), { number: 3, hash: a.hash });
    t.is(await store.findLatestGeneration('gamma'), undefined);
  });

  storeTest(name, open, 'listGenerations answers summaries newest first, a page at a time', async (t, store) => {
    for (let i = 0; i < 7; i++) await store.saveGeneration(generationDraft('alpha', pipPackages(3, { 'pkg-000': `9.${i}` }), { at: T0 + i }));
    await store.saveGeneration(generationDraft('beta', pipPackages(3)));
    t.deepEqual((await store.listGenerations('alpha', { limit: 100, offset: 0 })).map((g) => g.number), [7, 6, 5, 4, 3, 2, 1]);
    t.deepEqual((await store.listGenerations('alpha', { limit: 3, offset: 2 })).map((g) => g.number), [5, 4, 3]);
    t.deepEqual(await store.listGenerations('alpha', { limit: 3, offset: 7 }), []);
    t.deepEqual(await store.listGenerations('gamma', { limit: 3, offset: 0 }), []);
    t.true((await store.listGenerations('alpha', { limit: 100, offset: 0 })).every((g) => !('packages' in g) && g.packageCount === 3));
  });

  storeTest(name, open, 'every generation is found again with its exact package set, across small changes, big changes and long histories', async (t, store) => {
    let versions: Record<string, string> = {};
    let count = 40;
    const drafts = [];
    for (let i = 0; i < 40; i++) {
      // Mostly a package or two upgraded; now and then packages added or removed, and once nearly everything changed.
      versions = { ...versions, [`pkg-${String(i % count).padStart(3, '0')}`]: `2.${i}` };
      if (i === 10) count = 44;
      if (i === 17) count = 38;
      if (i === 25) versions = Object.fromEntries(Array.from({ length: 60 }, (_, k) => [`pkg-${String(k).padStart(3, '0')}`, `5.${i}`]));
      const draft = generationDraft('alpha', pipPackages(count, versions), { at: T0 + i });
      drafts.push(draft);
      t.like((await store.saveGeneration(draft)).generation, { number: i + 1 });
    }
    for (const [i, draft] of drafts.entries()) {
      const found = await store.findGeneration('alpha', i + 1);
      t.deepEqual(found?.packages, draft.packages, `generation ${i + 1}`);
      t.is(found?.hash, draft.hash);
      t.is(found?.packageCount, draft.packages.length);
    }
    t.is(await store.findGeneration('alpha', 41), undefined);
    t.is(await store.findGeneration('alpha', 0), undefined);
    t.is(await store.findGeneration('beta', 1), undefined);
  });

  storeTest(name, open, 'the requested flags are kept but are not part of the set: a change of flags alone records nothing', async (t, store) => {
    const packages = pipPackages(4);
    await store.saveGeneration(generationDraft('alpha', packages));
    const flipped = packages.map((p) => ({ ...p, requested: !p.requested }));
    t.false((await store.saveGeneration(generationDraft('alpha', flipped))).created);
    t.deepEqual((await store.findGeneration('alpha', 1))?.packages, packages);
    // One processor's set is kept with its own flags when another processor has the same packages otherwise.
    await store.saveGeneration(generationDraft('beta', flipped));
    t.deepEqual((await store.findGeneration('beta', 1))?.packages, flipped);
    t.deepEqual((await store.findGeneration('alpha', 1))?.packages, packages);
  });

  storeTest(name, open, 'conda generations keep build and channel, and a build change is a new generation', async (t, store) => {
    const conda = (build: string) => generationDraft('gamma', [
      { name: 'numpy', version: '1.26.4', build, channel: 'conda-forge' }, { name: 'python', version: '3.11.7', build: 'h_0', channel: 'conda-forge' },
    ], { manager: { kind: 'conda', version: '23.7.4' } });
    await store.saveGeneration(conda('py311_0'));
    t.true((await store.saveGeneration(conda('py311_1'))).created);
    t.deepEqual((await store.findGeneration('gamma', 2))?.packages.map((p) => p.build), ['py311_1', 'h_0']);
    t.like(await store.findGeneration('gamma', 1), { manager: { kind: 'conda', version: '23.7.4' } });
  });

  storeTest(name, open, 'a new generation journals the event it emits; an unchanged set journals none', async (t, store) => {
    const a = generationDraft('alpha', pipPackages(2));
    await store.saveGeneration(a, recorded);
    await store.saveGeneration({ ...a, at: T0 + 1 }, recorded);
    await store.saveGeneration(generationDraft('alpha', pipPackages(3)), recorded);
    const events = await store.readEvents(0, 100);
    t.deepEqual(events.map((e) => [e.type, (e.generation as GenerationSummary).number]), [['generation.recorded', 1], ['generation.recorded', 2]]);
  });

  storeTest(name, open, 'concurrent saves of different sets give each its own number, one after the other', async (t, store) => {
    const drafts = Array.from({ length: 6 }, (_, i) => generationDraft('alpha', pipPackages(4, { 'pkg-002': `3.${i}` }), { at: T0 + i }));
    const results = await Promise.all(drafts.map((d) => store.saveGeneration(d)));
    t.deepEqual(results.map((r) => r.generation.number).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6]);
    for (const r of results) t.is((await store.findGeneration('alpha', r.generation.number))?.hash, r.generation.hash);
  });
}
