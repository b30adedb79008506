import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import type { Store } from '../../src/store/types.ts';
import { T0, insertAll, operation } from './builders.ts';
import type { WorkerReport } from './claim-worker.ts';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('./claim-worker.ts', import.meta.url));

/** Queues `perProcessor` operations for each processor, all on the main node, oldest first per processor. */
export async function queueWork(store: Store, processors: readonly string[], perProcessor: number): Promise<Operation[]> {
  const ops = processors.flatMap((p, pi) => Array.from({ length: perProcessor }, (_, i) =>
    operation({ processObjId: `${p}-${i}`, productName: p, operationTimestamp: T0 + i * processors.length + pi })));
  await insertAll(store, ops);
  return ops;
}

/**
 * Starts `count` claim-worker processes on the same store at once and answers their reports. `env` passes what
 * must not appear on a command line (a MongoDB URL may hold a password).
 */
export async function runWorkers(count: number, storeArgs: readonly string[], env: Record<string, string> = {}): Promise<WorkerReport[]> {
  const runs = Array.from({ length: count }, (_, i) => run(process.execPath, ['--import', 'tsx', WORKER, `w${i}`, String(count), ...storeArgs], {
    // Only what node needs: the workers must not depend on the environment of whoever runs the tests.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    timeout: 90_000,
  }));
  const results = await Promise.all(runs);
  return results.map((r) => JSON.parse(r.stdout) as WorkerReport);
}

/**
 * Every operation was claimed exactly once, in each processor's order, and a processor's next claim came only
 * after its previous operation was finished — across processes.
 */
export function assertNoDoubleClaims(t: ExecutionContext, reports: readonly WorkerReport[], ops: readonly Operation[]): void {
  t.deepEqual(reports.flatMap((r) => r.violations), []);
  const claims = reports.flatMap((r) => r.claims.map((c) => ({ ...c, worker: r.worker })));
  t.deepEqual(claims.map((c) => c.id).sort(), ops.map((o) => o.processObjId).sort(), 'each operation claimed exactly once');
  const byProcessor = new Map<string, typeof claims>();
  for (const c of claims) byProcessor.set(c.processor, [...(byProcessor.get(c.processor) ?? []), c]);
  for (const [name, list] of byProcessor) {
    list.sort((a, b) => a.claimedAt - b.claimedAt || Number(a.id.split('-').at(-1)) - Number(b.id.split('-').at(-1)));
    t.deepEqual(list.map((c) => c.id), ops.filter((o) => o.productName === name).map((o) => o.processObjId), `${name} ran in queue order`);
    for (let i = 1; i < list.length; i++) {
      t.true(list[i]!.claimedAt >= list[i - 1]!.doneAt, `${list[i]!.id} claimed only after ${list[i - 1]!.id} finished`);
    }
  }
  t.true(new Set(claims.map((c) => c.worker)).size > 1, 'the work was shared between processes');
}
