import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { SAMPLES, endpointPath, json, pollUntil, rawGet, serviceFor, tokenHeader } from './support.ts';

// With catalog.readAhead (the default; the other tests turn it off), every processor's answer is read at start-up
// on a worker thread. What it serves must be what the files say, then and after they change.

test('read ahead: every sample answers its packages at once, and a file changed afterwards is served once seen', async (t) => {
  const svc = await serviceFor(t, { 'catalog.readAhead': true });
  const auth = tokenHeader(await svc.login('demo'));
  for (const sample of Object.values(SAMPLES)) {
    const res = await rawGet(svc, endpointPath('listPackages', sample), auth);
    t.is(res.status, 200, sample.name);
    t.true(Array.isArray(json(res)), sample.name);
  }
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  writeFileSync(file, JSON.stringify({ packageManager: { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 }, uptodate: [{ managerName: 'pip', packageName: 'only-one', currentVersion: '1.0' }] }));
  const seen = await pollUntil(() => rawGet(svc, endpointPath('listPackages', SAMPLES.pip), auth), (res) => res.body.includes('only-one'), { timeoutMs: 5_000, intervalMs: 20 });
  t.like(json<{ packageName: string }[]>(seen.value), [{ packageName: 'only-one', currentVersion: '1.0' }]);
  t.is(json<unknown[]>(seen.value).length, 1);
});
