import type { OperationLogLine } from '../../src/domain/operation.ts';
import { type OpenStore, T0, storeTest } from './builders.ts';

type Line = Omit<OperationLogLine, 'seq'>;

const out = (line: string, t = T0): Line => ({ t, stream: 'stdout', line });

/** An operation's log: what `GET …/operations/:id/log?afterSeq=` follows while pip runs. */
export function logContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'appended lines get seq 1, 2, 3… per operation and read back in order', async (t, store) => {
    await store.appendOperationLog('op-1', [out('Collecting numpy', T0), { t: T0 + 1, stream: 'stderr', line: 'WARNING: x' }]);
    await store.appendOperationLog('op-2', [out('other operation')]);
    await store.appendOperationLog('op-1', [{ t: T0 + 2, stream: 'procenv', line: 'exit 0' }]);
    t.deepEqual(await store.readOperationLog('op-1'), [
      { seq: 1, t: T0, stream: 'stdout', line: 'Collecting numpy' },
      { seq: 2, t: T0 + 1, stream: 'stderr', line: 'WARNING: x' },
      { seq: 3, t: T0 + 2, stream: 'procenv', line: 'exit 0' },
    ]);
    t.deepEqual(await store.readOperationLog('op-2'), [{ seq: 1, t: T0, stream: 'stdout', line: 'other operation' }]);
    t.deepEqual(await store.readOperationLog('op-3'), []);
  });

  storeTest(name, open, 'readOperationLog answers the lines after afterSeq, at most limit', async (t, store) => {
    await store.appendOperationLog('op-1', Array.from({ length: 10 }, (_, i) => out(`line ${i + 1}`)));
    const seqs = async (options: { afterSeq?: number; limit?: number }) => (await store.readOperationLog('op-1', options)).map((l) => l.seq);
    t.deepEqual(await seqs({ afterSeq: 7 }), [8, 9, 10]);
    t.deepEqual(await seqs({ limit: 3 }), [1, 2, 3]);
    t.deepEqual(await seqs({ afterSeq: 4, limit: 2 }), [5, 6]);
    t.deepEqual(await seqs({ afterSeq: 10 }), []);
    t.is((await store.readOperationLog('op-1', { afterSeq: 4, limit: 1 }))[0]?.line, 'line 5');
  });

  storeTest(name, open, 'appending no lines changes nothing', async (t, store) => {
    await store.appendOperationLog('op-1', []);
    t.deepEqual(await store.readOperationLog('op-1'), []);
    await store.appendOperationLog('op-1', [out('first')]);
    await store.appendOperationLog('op-1', []);
    t.deepEqual((await store.readOperationLog('op-1')).map((l) => l.seq), [1]);
  });

  storeTest(name, open, 'concurrent appends share no seq and keep each batch contiguous and in order', async (t, store) => {
    const batches = 20;
    const perBatch = 5;
    await Promise.all(Array.from({ length: batches }, (_, b) =>
      store.appendOperationLog('op-1', Array.from({ length: perBatch }, (_, i) => out(`${b}:${i}`)))));
    const lines = await store.readOperationLog('op-1');
    t.deepEqual(lines.map((l) => l.seq), Array.from({ length: batches * perBatch }, (_, i) => i + 1));
    for (let b = 0; b < batches; b++) {
      const mine = lines.filter((l) => l.line.startsWith(`${b}:`));
      t.deepEqual(mine.map((l) => l.line), Array.from({ length: perBatch }, (_, i) => `${b}:${i}`));
      t.is(mine.at(-1)!.seq - mine[0]!.seq, perBatch - 1, `batch ${b} is contiguous`);
    }
  });
}
