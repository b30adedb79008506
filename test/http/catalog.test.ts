import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { TestService } from '../helpers/service.ts';
import { SAMPLES, endpointPath, json, pollUntil, rawGet, serviceFor, tokenHeader, writeProcessorFolder, type Answer } from './support.ts';

// The processors folder changing while the service runs (issue "The service": folders appear, change and
// disappear; a snapshot changed on disk is served within a second). Polls have deadlines; no fixed sleeps.

const DEADLINE_MS = 5000;

/**
 * Waits out chokidar's per-path throttles (50 ms for a change, 100 ms for a removal) between two changes of one
 * file: the catalog loses a change that falls inside them (the known bug at the end of this file). Remove the
 * calls once that bug is fixed.
 */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

function snapshotOf(...names: string[]): string {
  return JSON.stringify({
    packageManager: { name: 'pip', version: `${names.length}.0.0`, major: names.length, minor: 0, patch: 0 },
    uptodate: names.map((packageName) => ({ managerName: 'pip', packageName, currentVersion: '1.0', currentBuild: null })),
  });
}

const names = (res: Answer) => (res.status === 200 ? json<{ packageName: string }[]>(res).map((p) => p.packageName) : []);

async function list(svc: TestService, name: string, token: string): Promise<Answer> {
  return rawGet(svc, endpointPath('listPackages', { name, id: '' }), tokenHeader(token));
}

/** Writes the snapshot, then polls listPackages until it shows `expected`; answers the time it took. */
async function measureSnapshotChange(svc: TestService, token: string, write: () => void, expected: string[]): Promise<{ res: Answer; elapsedMs: number }> {
  const started = performance.now();
  write();
  const { value, elapsedMs } = await pollUntil(() => list(svc, SAMPLES.pip.name, token), (r) => JSON.stringify(names(r)) === JSON.stringify(expected), { timeoutMs: 3000, intervalMs: 5 });
  return { res: value, elapsedMs: Math.max(elapsedMs, performance.now() - started) };
}

test('a processor folder added while the service runs is served', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  t.is((await list(svc, 'late_app', token)).status, 403);
  writeProcessorFolder(svc.config.processorsDir, 'late_app', { processorId: 'late-1', type: 'python_pip_2', userId: 'demo', isPublic: 0 }, {
    'packagesInfo.json': snapshotOf('gdal', 'Affine'),
    'envActionsList.txt': 'addPackage/gdal/\n',
  });
  const { value, elapsedMs } = await pollUntil(() => list(svc, 'late_app', token), (r) => r.status === 200, { timeoutMs: DEADLINE_MS });
  t.is(value.status, 200);
  t.deepEqual(names(value), ['Affine', 'gdal']);
  t.log(`registered after ${Math.round(elapsedMs)} ms`);
  const actions = await rawGet(svc, '/packageManager/environmentActions?name=late_app', tokenHeader(token));
  t.deepEqual(json(actions), ['addPackage/gdal/']);
  const update = await rawGet(svc, endpointPath('environmentupdate', { name: 'late_app', id: 'late-1' }, 'addPackage/numpy/'), tokenHeader(token));
  t.is(update.status, 200);
  t.is((await svc.store.findOperation(json<{ processObjId: string }>(update).processObjId))?.productName, 'late_app');
});

test('a processor type changed on disk changes whether environmentupdate has a package manager', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const app = { name: 'shape_shifter', id: 'shift-1' };
  const descriptor = { processorId: app.id, userId: 'demo', isPublic: 1 };
  writeProcessorFolder(svc.config.processorsDir, app.name, { ...descriptor, type: 'octave' });
  const update = () => rawGet(svc, endpointPath('environmentupdate', app, 'addPackage/numpy/'), tokenHeader(token));
  const code = (r: Answer) => (r.status === 200 ? 'OK' : json<{ error: { code: string } }>(r).error.code);

  const noManager = await pollUntil(update, (r) => code(r) === 'NO_PACKAGE_MANAGER', { timeoutMs: DEADLINE_MS });
  t.is(code(noManager.value), 'NO_PACKAGE_MANAGER');

  await settle();
  writeProcessorFolder(svc.config.processorsDir, app.name, { ...descriptor, type: 'conda' });
  const conda = await pollUntil(update, (r) => r.status === 200, { timeoutMs: DEADLINE_MS });
  t.is(conda.value.status, 200);

  await settle();
  writeProcessorFolder(svc.config.processorsDir, app.name, { ...descriptor, type: 'jupyter-notebook' });
  const again = await pollUntil(update, (r) => r.status !== 200, { timeoutMs: DEADLINE_MS });
  t.is(code(again.value), 'NO_PACKAGE_MANAGER');
});

test('isPublic changed on disk opens and closes the processor to other users', async (t) => {
  const svc = await serviceFor(t);
  const stranger = await svc.login('stranger');
  const descriptor = { processorId: 'vis-1', type: 'python312', userId: 'demo' };
  writeProcessorFolder(svc.config.processorsDir, 'visible_app', { ...descriptor, isPublic: 0 }, { 'packagesInfo.json': snapshotOf('numpy') });
  // The owner sees it once registered; the stranger does not.
  const owner = await svc.login('demo');
  t.is((await pollUntil(() => list(svc, 'visible_app', owner), (r) => r.status === 200, { timeoutMs: DEADLINE_MS })).value.status, 200);
  t.is((await list(svc, 'visible_app', stranger)).status, 403);

  await settle();
  writeProcessorFolder(svc.config.processorsDir, 'visible_app', { ...descriptor, isPublic: 1 });
  const opened = await pollUntil(() => list(svc, 'visible_app', stranger), (r) => r.status === 200, { timeoutMs: DEADLINE_MS });
  t.deepEqual(names(opened.value), ['numpy']);

  await settle();
  writeProcessorFolder(svc.config.processorsDir, 'visible_app', { ...descriptor, isPublic: 'false' });
  const closed = await pollUntil(() => list(svc, 'visible_app', stranger), (r) => r.status === 403, { timeoutMs: DEADLINE_MS });
  t.is(closed.value.status, 403);
});

test('a processor folder removed while the service runs answers 403, and 400 to environmentupdate', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  t.is((await list(svc, SAMPLES.conda.name, token)).status, 200);
  rmSync(join(svc.config.processorsDir, SAMPLES.conda.name), { recursive: true });
  const gone = await pollUntil(() => list(svc, SAMPLES.conda.name, token), (r) => r.status === 403, { timeoutMs: DEADLINE_MS });
  t.is(gone.value.status, 403);
  t.log(`unregistered after ${Math.round(gone.elapsedMs)} ms`);
  const update = await rawGet(svc, endpointPath('environmentupdate', SAMPLES.conda, 'addPackage/numpy/'), tokenHeader(token));
  t.is(update.status, 400);
  t.is(json<{ error: { code: string } }>(update).error.code, 'PROCESSOR_NOT_FOUND');
  // The other processors are still served.
  t.is((await list(svc, SAMPLES.pip.name, token)).status, 200);
});

test('a processor.json removed from a folder that stays unregisters the processor', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  rmSync(join(svc.config.processorsDir, SAMPLES.pip.name, 'processor.json'));
  const gone = await pollUntil(() => list(svc, SAMPLES.pip.name, token), (r) => r.status === 403, { timeoutMs: DEADLINE_MS });
  t.is(gone.value.status, 403);
});

test('an invalid processor.json is not registered, the service keeps serving, and a fixed one is picked up', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  writeProcessorFolder(svc.config.processorsDir, 'broken_app', { processorId: '', type: 'conda', userId: 'demo', isPublic: 1 });
  writeFileSync(join(svc.config.processorsDir, 'broken_app', 'processor.json'), '{ "processorId": ');
  await svc.catalog.settled();
  t.is((await list(svc, 'broken_app', token)).status, 403);
  t.is((await list(svc, SAMPLES.pip.name, token)).status, 200);
  await settle();
  writeProcessorFolder(svc.config.processorsDir, 'broken_app', { processorId: 'fixed-1', type: 'conda', userId: 'demo', isPublic: 1 });
  const fixed = await pollUntil(() => list(svc, 'broken_app', token), (r) => r.status === 200, { timeoutMs: DEADLINE_MS });
  t.deepEqual([fixed.value.status, json(fixed.value)], [200, []]);
});

test.serial('a snapshot rewritten in place is served within a second', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  t.is(names(await list(svc, SAMPLES.pip.name, token)).length, 7, 'the old snapshot is served (and cached) first');
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  const { res, elapsedMs } = await measureSnapshotChange(svc, token, () => writeFileSync(file, snapshotOf('inplace_pkg', 'Another')), ['Another', 'inplace_pkg']);
  t.deepEqual(names(res), ['Another', 'inplace_pkg']);
  t.true(elapsedMs < 1000, `served after ${Math.round(elapsedMs)} ms`);
  t.log(`in-place write served after ${Math.round(elapsedMs)} ms`);
  const version = await rawGet(svc, endpointPath('managerVersion', SAMPLES.pip), tokenHeader(token));
  t.like(json(version), { version: '2.0.0', major: 2 });
});

test.serial('a snapshot written atomically (temporary file, then rename) is served within a second', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  t.is(names(await list(svc, SAMPLES.pip.name, token)).length, 7);
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  const write = () => {
    const tmp = join(svc.config.processorsDir, SAMPLES.pip.name, '.packagesInfo.json.tmp');
    writeFileSync(tmp, snapshotOf('atomic_pkg'));
    renameSync(tmp, file);
  };
  const { res, elapsedMs } = await measureSnapshotChange(svc, token, write, ['atomic_pkg']);
  t.deepEqual(names(res), ['atomic_pkg']);
  t.true(elapsedMs < 1000, `served after ${Math.round(elapsedMs)} ms`);
  t.log(`atomic write served after ${Math.round(elapsedMs)} ms`);
});

test.serial('a snapshot that appears is served, and one that is deleted answers [] again', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  t.is(names(await list(svc, SAMPLES.pip.name, token)).length, 7);
  rmSync(file);
  const missing = await pollUntil(() => list(svc, SAMPLES.pip.name, token), (r) => r.body === '[]', { timeoutMs: DEADLINE_MS });
  t.deepEqual([missing.value.status, missing.value.body], [200, '[]']);
  t.true(missing.elapsedMs < 1000, `deletion seen after ${Math.round(missing.elapsedMs)} ms`);
  await settle();
  const created = await measureSnapshotChange(svc, token, () => writeFileSync(file, snapshotOf('born')), ['born']);
  t.deepEqual(names(created.res), ['born']);
  t.true(created.elapsedMs < 1000, `served after ${Math.round(created.elapsedMs)} ms`);
  await settle();
  rmSync(file);
  const deleted = await pollUntil(() => list(svc, SAMPLES.pip.name, token), (r) => r.body === '[]', { timeoutMs: DEADLINE_MS });
  t.deepEqual([deleted.value.status, deleted.value.body], [200, '[]']);
  t.true(deleted.elapsedMs < 1000, `deletion seen after ${Math.round(deleted.elapsedMs)} ms`);
});

test.serial('a snapshot broken on disk answers 500 and, once repaired, 200 again', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  t.is((await list(svc, SAMPLES.pip.name, token)).status, 200, 'served before the damage');
  writeFileSync(file, '{ not json');
  const damaged = await pollUntil(() => list(svc, SAMPLES.pip.name, token), (r) => r.status === 500, { timeoutMs: DEADLINE_MS });
  t.is(damaged.value.status, 500);
  t.is(json<{ error: { code: string } }>(damaged.value).error.code, 'SNAPSHOT_UNREADABLE');
  await settle();
  const repaired = await measureSnapshotChange(svc, token, () => writeFileSync(file, snapshotOf('healed')), ['healed']);
  t.deepEqual(names(repaired.res), ['healed']);
  t.true(repaired.elapsedMs < 1000, `served after ${Math.round(repaired.elapsedMs)} ms`);
});

// chokidar drops a second `change` of one path within 50 ms of the previous one (its change throttle, no trailing
// event). The catalog handles every event once more 150 ms after the last one for that file, so a writer that
// rewrites the file twice in quick succession, with a request in between, still has its final content served.
// The file's timing under load can let one round escape the 50 ms window, so several rounds run.
test.serial('a snapshot rewritten twice within 50 ms is served in its final form within a second', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  t.is(names(await list(svc, SAMPLES.pip.name, token)).length, 7);
  for (let round = 0; round < 5; round++) {
    // At the catalog's own 'snapshot' event (the first change taken in), a reader caches the first content (as a
    // request arriving then would) and the writer rewrites the file, both within the same millisecond.
    const rewritten = new Promise<void>((resolve) => svc.catalog.once('snapshot', () => {
      svc.catalog.snapshot(SAMPLES.pip.name);
      writeFileSync(file, snapshotOf(`second${round}`));
      resolve();
    }));
    writeFileSync(file, snapshotOf(`first${round}`));
    await rewritten;
    const second = await measureSnapshotChange(svc, token, () => undefined, [`second${round}`]);
    t.deepEqual(names(second.res), [`second${round}`], `round ${round}: still stale after ${Math.round(second.elapsedMs)} ms`);
    if (names(second.res)[0] !== `second${round}`) return;
    t.true(second.elapsedMs < 1000);
    await settle();
  }
});

// The same for a removal: chokidar ignores a second removal of a path within 100 ms of the previous one, so a
// snapshot deleted, re-created and deleted again in quick succession must still end up answering [].
test.serial('a snapshot deleted shortly after it was re-created answers [] within a second', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  for (let round = 0; round < 5; round++) {
    writeFileSync(file, snapshotOf(`old${round}`));
    await pollUntil(() => list(svc, SAMPLES.pip.name, token), (r) => names(r)[0] === `old${round}`, { timeoutMs: DEADLINE_MS });
    await settle();
    // Delete, re-create 30 ms later (chokidar reports the pair as one change), and delete again as soon as the
    // catalog took the new content in.
    // (The catalog also handles each event again 150 ms later, so a 'snapshot' event may come before the file is
    // back: only the one that finds the new content counts.)
    const deletedAgain = new Promise<void>((resolve) => {
      const onSnapshot = () => {
        const snap = svc.catalog.snapshot(SAMPLES.pip.name);
        if (snap.state !== 'ok' || !snap.list.body.toString().includes(`new${round}`)) return;
        svc.catalog.off('snapshot', onSnapshot);
        rmSync(file, { force: true });
        resolve();
      };
      svc.catalog.on('snapshot', onSnapshot);
    });
    rmSync(file);
    await new Promise((resolve) => setTimeout(resolve, 30));
    writeFileSync(file, snapshotOf(`new${round}`));
    await deletedAgain;
    const gone = await pollUntil(() => list(svc, SAMPLES.pip.name, token), (r) => r.body === '[]', { timeoutMs: 1000, intervalMs: 5 });
    t.is(gone.value.body, '[]', `round ${round}: still served after ${Math.round(gone.elapsedMs)} ms`);
    if (gone.value.body !== '[]') return;
    await settle();
  }
});
