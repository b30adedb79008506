/**
 * A queue worker reduced to its store calls, run as a separate process by the cross-process claim tests:
 *   node --import tsx test/store/claim-worker.ts <workerId> <workerCount> embedded <sqliteFile>
 *   MONGODB_URL=… node --import tsx test/store/claim-worker.ts <workerId> <workerCount> mongodb <dbName>
 * It waits until all `workerCount` workers are up (each appends a line to the log of a `barrier` operation, so
 * process start-up times do not decide who gets the work), then claims, checks that its operation is the only RUNNING one of its processor, finishes it, and repeats until
 * no operation is CREATED or RUNNING. It prints one JSON report on stdout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';

export interface ClaimRecord { id: string; processor: string; claimedAt: number; doneAt: number }
export interface WorkerReport { worker: string; claims: ClaimRecord[]; violations: string[] }

const [worker, workers, kind, location] = process.argv.slice(2);
if (!worker || !Number(workers) || !location || (kind !== 'embedded' && kind !== 'mongodb')) {
  process.stderr.write('usage: claim-worker.ts <workerId> <workerCount> embedded <file> | mongodb <dbName> (MONGODB_URL set)\n');
  process.exit(2);
}

async function openStore(): Promise<Store> {
  if (kind === 'embedded') return new SqliteStore(location!);
  const { MongoStore } = await import('../../src/store/mongodb/mongo-store.ts');
  return MongoStore.connect(process.env.MONGODB_URL ?? '', location!);
}

const store = await openStore();
const report: WorkerReport = { worker, claims: [], violations: [] };
const deadline = Date.now() + 60_000;
try {
  await store.appendOperationLog('barrier', [{ t: Date.now(), stream: 'procenv', line: worker }]);
  while ((await store.readOperationLog('barrier')).length < Number(workers) && Date.now() < deadline) await sleep(5);
  while (Date.now() < deadline) {
    const now = Date.now();
    const op = await store.claimNextOperation('wasdi', worker, now + 60_000, now);
    if (!op) {
      const open = await store.listOperations({ status: ['CREATED', 'RUNNING'], limit: 1 });
      if (open.length === 0) break;
      await sleep(2);
      continue;
    }
    const claimedAt = Date.now();
    const running = await store.listOperations({ processorName: op.productName, status: 'RUNNING' });
    if (running.length !== 1 || running[0]!.processObjId !== op.processObjId) {
      report.violations.push(`${worker} claimed ${op.processObjId} while RUNNING: ${running.map((r) => r.processObjId).join(',')}`);
    }
    await sleep(Math.floor(Math.random() * 4));
    // Taken before the update: the next claim of this processor commits after it, so its claimedAt is >= this.
    const doneAt = Date.now();
    const done = await store.updateOperation(op.processObjId, ['RUNNING'], { status: 'DONE', operationEndTimestamp: doneAt });
    if (!done) report.violations.push(`${worker} lost ${op.processObjId} before finishing it`);
    report.claims.push({ id: op.processObjId, processor: op.productName, claimedAt, doneAt });
  }
  if (Date.now() >= deadline) report.violations.push(`${worker} ran out of time`);
} finally {
  await store.close();
}
process.stdout.write(`${JSON.stringify(report)}\n`);
