/**
 * The catalog's read-ahead off the main thread (see ProcessorCatalog.readAhead): for each [name, folder] it is sent,
 * answers the parsed snapshot, its bytes moved rather than copied, or the name alone when the catalog must read it
 * itself. Nothing here writes, reports or logs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readSnapshot, type ReadAheadMessage } from './snapshot-read.ts';

const { maxBytes } = workerData as { maxBytes: number };

parentPort!.on('message', (folders: [string, string][]) => {
  for (const [name, folder] of folders) {
    const snap = readSnapshot(folder, maxBytes);
    if (!snap) {
      parentPort!.postMessage({ name } satisfies ReadAheadMessage);
      continue;
    }
    // A copy of its own, so that only these bytes move (Buffer.from may hand out a slice of a shared pool).
    const bytes = new Uint8Array(snap.body.length);
    bytes.set(snap.body);
    const msg: ReadAheadMessage = { name, key: snap.key, bytes, counts: snap.counts, ...(snap.managerVersion ? { managerVersion: snap.managerVersion } : {}) };
    parentPort!.postMessage(msg, [bytes.buffer]);
  }
  parentPort!.postMessage({ done: true });
});
