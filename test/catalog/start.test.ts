import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ProcessorCatalog, type Snapshot } from '../../src/catalog/catalog.ts';
import { createLogger } from '../../src/logger.ts';
import { SqliteStore } from '../../src/store/embedded/sqlite-store.ts';

// The catalog serves as soon as its scan has registered the folders; the watcher's own first pass over the folder
// ends later (1.3 s for 1,000 processors). Nothing changed on disk in between may be served stale.

function snapshotText(...names: string[]): string {
  return JSON.stringify({ uptodate: names.map((packageName) => ({ managerName: 'pip', packageName, currentVersion: '1.0' })) });
}

const names = (snap: Snapshot) => (snap.state === 'ok' ? (JSON.parse(snap.list.body.toString()) as { packageName: string }[]).map((p) => p.packageName) : snap.state);

function processor(dir: string, name: string, packages: string[]): string {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'processor.json'), JSON.stringify({ processorId: `id-${name}`, name, type: 'python_pip_2', userId: 'demo', isPublic: 1 }));
  const file = join(dir, name, 'packagesInfo.json');
  writeFileSync(file, snapshotText(...packages));
  return file;
}

async function started(t: ExecutionContext, count: number): Promise<{ catalog: ProcessorCatalog; store: SqliteStore; dir: string }> {
  const root = mkdtempSync(join(tmpdir(), 'procenv-catalog-start-'));
  const dir = join(root, 'processors');
  for (let i = 0; i < count; i++) processor(dir, `filler_${i}`, ['x']);
  const store = new SqliteStore(join(root, 'procenv.sqlite'));
  const catalog = new ProcessorCatalog({ processorsDir: dir, store, log: createLogger('silent'), folderCheckMs: 0 });
  t.teardown(async () => {
    await catalog.stop();
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });
  return { catalog, store, dir };
}

test('before the watcher is ready, snapshots are served as the files are; changes made then are seen once it is', async (t) => {
  const { catalog, store, dir } = await started(t, 200);
  const read = processor(dir, 'app_read', ['a']);
  const kept = processor(dir, 'app_kept', ['k']);
  await catalog.start();
  // The watcher needs the event loop to finish its first pass: the code below runs before it can.
  t.truthy(await store.findProcessorByName('app_read'), 'registered by the scan start() waited for');
  t.deepEqual(names(catalog.snapshot('app_read')), ['a']);
  t.deepEqual(names(catalog.snapshot('app_kept')), ['k']);

  writeFileSync(read, snapshotText('a', 'b'));
  t.deepEqual(names(catalog.snapshot('app_read')), ['a', 'b'], 'read again: the file changed');
  // Changed, and not read again before the watcher is ready: its next read after that must not be the old one.
  writeFileSync(kept, snapshotText('k', 'l', 'm'));
  processor(dir, 'app_late', ['z']);

  await catalog.watched();
  t.deepEqual(names(catalog.snapshot('app_kept')), ['k', 'l', 'm']);
  t.truthy(await store.findProcessorByName('app_late'), 'a folder added before the watcher was ready is registered');
  t.deepEqual(names(catalog.snapshot('app_late')), ['z']);

  // From now on the watcher's events keep the cache right.
  writeFileSync(read, snapshotText('c'));
  const deadline = Date.now() + 5000;
  while (JSON.stringify(names(catalog.snapshot('app_read'))) !== '["c"]' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(names(catalog.snapshot('app_read')), ['c']);
});

test('stopping before the watcher is ready, while the worker reads ahead, ends watched() instead of leaving it pending', async (t) => {
  // The worker thread is ended too: a thread left running would keep this test's process alive (test/helpers/worker-exit).
  const { catalog } = await started(t, 300);
  await catalog.start();
  await catalog.stop();
  const outcome = await Promise.race([
    catalog.watched().then(() => 'ended'),
    new Promise((resolve) => setTimeout(() => resolve('still pending after 5 s'), 5000)),
  ]);
  t.is(outcome, 'ended');
});

test('a folder is registered once: not again when the watcher is ready, nor at a restart on the same store', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'procenv-catalog-restart-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'processors');
  for (let i = 0; i < 20; i++) processor(dir, `app_${i}`, ['x']);
  const run = async () => {
    const lines: string[] = [];
    const store = new SqliteStore(join(root, 'procenv.sqlite'));
    const catalog = new ProcessorCatalog({ processorsDir: dir, store, log: createLogger('info', { write: (line: string) => void lines.push(line) }), folderCheckMs: 0 });
    await catalog.start();
    await catalog.watched();
    const registered = lines.filter((l) => l.includes('"processor registered"')).length;
    const listed = (await store.listProcessors()).length;
    await catalog.stop();
    await store.close();
    return { registered, listed };
  };
  t.deepEqual(await run(), { registered: 20, listed: 20 });
  // A processor.json changed while procenv was stopped is registered again; the others are left as they are.
  writeFileSync(join(dir, 'app_3', 'processor.json'), JSON.stringify({ processorId: 'id-app_3', name: 'app_3', type: 'python_pip_2', userId: 'demo', isPublic: 0 }));
  t.deepEqual(await run(), { registered: 1, listed: 20 });
});

test('every registered processor\'s snapshot is read ahead on a worker thread, and not read again when asked', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'procenv-catalog-ahead-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'processors');
  for (let i = 0; i < 30; i++) processor(dir, `app_${i}`, [`p${i}`]);
  // Not read ahead by the worker (refused, empty): read on the main thread, which reports the refusal.
  processor(dir, 'app_empty', []);
  writeFileSync(join(dir, 'app_empty', 'packagesInfo.json'), '');
  processor(dir, 'app_big', ['x'.repeat(5000)]);
  const lines: string[] = [];
  const store = new SqliteStore(join(root, 'procenv.sqlite'));
  const catalog = new ProcessorCatalog({
    processorsDir: dir, store, log: createLogger('info', { write: (line: string) => void lines.push(line) }), folderCheckMs: 0, limits: { packagesInfoBytes: 4096 },
  });
  t.teardown(async () => {
    await catalog.stop();
    await store.close();
  });
  await catalog.start();
  await catalog.watched();
  const ahead = lines.map((l) => JSON.parse(l) as { msg: string; snapshots?: number; where?: string }).find((l) => l.msg === 'snapshots read ahead');
  t.like(ahead, { snapshots: 32, where: 'worker' });
  t.true(catalog.problems().some((p) => p.folder === 'app_big' && p.file === 'packagesInfo.json'), 'a file over the limit is reported, as when a request reads it');
  // Served from what was read ahead: the files are not read again.
  const load = (catalog as unknown as { load: (name: string) => Snapshot }).load.bind(catalog);
  let reads = 0;
  (catalog as unknown as { load: (name: string) => Snapshot }).load = (name) => (reads++, load(name));
  for (let i = 0; i < 30; i++) t.deepEqual(names(catalog.snapshot(`app_${i}`)), [`p${i}`]);
  t.is(catalog.snapshot('app_empty').state, 'empty');
  t.is(catalog.snapshot('app_big').state, 'unreadable');
  t.is(reads, 0);
});

test('a snapshot changed on disk while the worker read it is not kept: its next read is the new file', async (t) => {
  const { catalog, dir } = await started(t, 300);
  const file = processor(dir, 'app_moving', ['old']);
  await catalog.start();
  // Written while the read-ahead runs (it has 301 files to go through): whichever way the race goes, what is
  // served once both are done is the new file.
  writeFileSync(file, snapshotText('new', 'newer'));
  await catalog.watched();
  t.deepEqual(names(catalog.snapshot('app_moving')), ['new', 'newer']);
});
