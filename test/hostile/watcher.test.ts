import { renameSync } from 'node:fs';
import test from 'ava';
import { hostileService, pollUntil, SAMPLES, writeProcessorFolder } from './support.ts';

// The processors folder itself can go away and come back (a remount, an operator's mv): the watcher must not stay
// blind until a restart.

test('the processors folder renamed away and back is served again within seconds, and its loss is a warning', async (t) => {
  const svc = await hostileService(t, {}, { worker: false });
  const owner = await svc.login('demo');
  const list = () => svc.get('packageManager/listPackages', owner, { name: SAMPLES.pip.name });
  t.is((await list()).status, 200);

  const dir = svc.config.processorsDir;
  renameSync(dir, `${dir}.away`);
  const warned = await pollUntil(async () => svc.logs.filter((l) => l.level === 40 && /processors folder is gone/.test(l.msg)), (w) => w.length > 0, { timeoutMs: 10_000, intervalMs: 50 });
  t.is(warned.value.length, 1, 'one warning when the folder disappears');

  renameSync(`${dir}.away`, dir);
  const back = await pollUntil(list, (r) => r.status === 200, { timeoutMs: 5000, intervalMs: 50 });
  t.is(back.value.status, 200);
  t.log(`served again ${Math.round(back.elapsedMs)} ms after the folder came back`);
  // The new watcher works: a processor added after the return is picked up.
  writeProcessorFolder(dir, 'after_return', { processorId: 'ret-1', type: 'python_pip_2', userId: 'demo', isPublic: 1 });
  const added = await pollUntil(() => svc.get('packageManager/listPackages', owner, { name: 'after_return' }), (r) => r.status === 200, { timeoutMs: 5000 });
  t.is(added.value.status, 200);
  t.is(svc.logs.filter((l) => /processors folder is gone/.test(l.msg)).length, 1);
});
