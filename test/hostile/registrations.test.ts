import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { hostileService, pollUntil, problems, SAMPLES, writeProcessorFolder } from './support.ts';

// A processor.json names its own processorId and userId: a second folder claiming a registered id must not take
// that processor over. The registration that exists wins; the claim is refused, logged and reported.

const DEADLINE_MS = 10_000;

test('a second folder claiming a registered processorId changes nothing, and removing it changes nothing either', async (t) => {
  const svc = await hostileService(t, {}, { worker: false });
  const admin = await svc.login('root-admin', { admin: true });
  const owner = await svc.login('demo');
  const mallory = await svc.login('mallory');
  // 'aaa_' sorts first, so a scan would meet the intruder before the original too.
  writeProcessorFolder(svc.config.processorsDir, 'aaa_intruder', { processorId: SAMPLES.pip.id, type: 'python_pip_2', userId: 'mallory', isPublic: 0 });
  const refused = await pollUntil(() => problems(svc, admin), (ps) => ps.some((p) => p.folder === 'aaa_intruder'), { timeoutMs: DEADLINE_MS });
  const problem = refused.value.find((p) => p.folder === 'aaa_intruder');
  t.is(problem?.file, 'processor.json');
  t.regex(problem?.reason ?? '', /already registered by processor "sample_pip"/);
  t.true(svc.logs.some((l) => l.msg === 'processor folder refused' && l.folder === 'aaa_intruder'));

  const held = await svc.store.findProcessorById(SAMPLES.pip.id);
  t.is(held?.name, SAMPLES.pip.name);
  t.is(held?.userId, 'demo');
  t.is((await svc.get('packageManager/listPackages', owner, { name: SAMPLES.pip.name })).status, 200);
  t.is((await svc.get('packageManager/reset', mallory, { processorId: SAMPLES.pip.id, workspace: '-' })).status, 403);
  t.is((await svc.get('packageManager/listPackages', mallory, { name: 'aaa_intruder' })).status, 403);

  rmSync(join(svc.config.processorsDir, 'aaa_intruder'), { recursive: true });
  const cleared = await pollUntil(() => problems(svc, admin), (ps) => !ps.some((p) => p.folder === 'aaa_intruder'), { timeoutMs: DEADLINE_MS });
  t.deepEqual(cleared.value.filter((p) => p.folder === 'aaa_intruder'), []);
  await svc.catalog.settled();
  t.is((await svc.store.findProcessorById(SAMPLES.pip.id))?.name, SAMPLES.pip.name);
  t.is((await svc.get('packageManager/listPackages', owner, { name: SAMPLES.pip.name })).status, 200);
});

test('two folders claiming one processorId on an empty store: the first name wins at start-up, the other is reported', async (t) => {
  const descriptor = (userId: string) => JSON.stringify({ processorId: 'twin-id', type: 'python_pip_2', userId, isPublic: 0 });
  const svc = await hostileService(t, {}, {
    worker: false,
    before: (dir) => {
      for (const [name, user] of [['twin_a', 'alice'], ['twin_b', 'mallory']] as const) {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, 'processor.json'), descriptor(user));
      }
    },
  });
  const admin = await svc.login('root-admin', { admin: true });
  const held = await svc.store.findProcessorById('twin-id');
  t.is(held?.name, 'twin_a');
  t.is(held?.userId, 'alice');
  const listed = await problems(svc, admin);
  t.true(listed.some((p) => p.folder === 'twin_b' && /already registered by processor "twin_a"/.test(p.reason)), JSON.stringify(listed));
  t.false(listed.some((p) => p.folder === 'twin_a'));

  // Once the holder's folder is gone, the id is free and the refused claim is taken up.
  rmSync(join(svc.config.processorsDir, 'twin_a'), { recursive: true });
  const moved = await pollUntil(async () => (await svc.store.findProcessorById('twin-id'))?.name, (name) => name === 'twin_b', { timeoutMs: DEADLINE_MS });
  t.is(moved.value, 'twin_b');
  t.false((await problems(svc, admin)).some((p) => p.folder === 'twin_b'));
});
