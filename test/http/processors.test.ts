import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { ProcessorSummary } from '../../src/services/processor-summaries.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { SAMPLES, assertError, json, pollUntil, rawGet, serviceFor, share, tokenHeader } from './support.ts';

/**
 * GET /me, GET /processors and GET /processors/:name: what the environment panel reads. The samples: sample_pip
 * and sample_conda are public, sample_oneshot is private; demo owns all three.
 */

const PRIVATE = SAMPLES.oneshot;
const ALL = ['sample_conda', 'sample_oneshot', 'sample_pip'];
const PUBLIC = ['sample_conda', 'sample_pip'];

interface Who {
  title: string;
  token(svc: TestService): Promise<string>;
  /** The processors listed, and those of them the caller may change. */
  reads: string[];
  writes: string[];
}

const WHO: Who[] = [
  { title: 'the owner', token: (svc) => svc.login('demo'), reads: ALL, writes: ALL },
  { title: 'a stranger', token: (svc) => svc.login('stranger'), reads: PUBLIC, writes: [] },
  {
    title: 'a read sharer', reads: ALL, writes: [],
    token: async (svc) => {
      await share(svc, PRIVATE, 'reader', 'read');
      return svc.login('reader');
    },
  },
  {
    title: 'a write sharer', reads: ALL, writes: [PRIVATE.name],
    token: async (svc) => {
      await share(svc, PRIVATE, 'writer', 'write');
      return svc.login('writer');
    },
  },
  { title: 'an admin', token: (svc) => svc.login('root', { admin: true }), reads: ALL, writes: ALL },
];

// One service for the read-only matrix: none of these requests changes anything.
let shared: TestService;
test.before(async () => {
  shared = await startTestService({}, { worker: false });
});
test.after.always(async () => {
  await shared?.close();
});

for (const who of WHO) {
  test(`GET /processors by ${who.title} lists the processors they can read, with what they may change`, async (t) => {
    const token = await who.token(shared);
    const res = await rawGet(shared, '/processors', tokenHeader(token));
    t.is(res.status, 200, res.body);
    const rows = json<ProcessorSummary[]>(res);
    t.deepEqual(rows.map((r) => r.name), who.reads);
    t.deepEqual(rows.filter((r) => r.canWrite).map((r) => r.name), who.writes);
  });

  test(`GET /processors/:name by ${who.title} answers each readable processor with its rights, and 403 for the others`, async (t) => {
    const token = await who.token(shared);
    for (const name of ALL) {
      const res = await rawGet(shared, `/processors/${name}`, tokenHeader(token));
      if (who.reads.includes(name)) {
        t.is(res.status, 200, res.body);
        t.like(json<ProcessorSummary>(res), { name, canWrite: who.writes.includes(name) });
      } else {
        assertError(t, res, 403, 'PROCESSOR_NOT_ACCESSIBLE');
      }
    }
  });
}

test('GET /processors/:name describes the processor: type, manager, owner, visibility and package counts from packagesInfo.json', async (t) => {
  const token = await shared.login('demo');
  const get = async (name: string) => json<ProcessorSummary>(await rawGet(shared, `/processors/${name}`, tokenHeader(token)));
  t.deepEqual(await get('sample_pip'), {
    name: 'sample_pip', processorId: SAMPLES.pip.id, type: 'python_pip_2', manager: 'pip', owner: 'demo', isPublic: true, canWrite: true,
    packages: 7, outdated: 3, lastOperation: null,
  });
  // conda's `all` list names no latest version: nothing is counted as outdated.
  t.like(await get('sample_conda'), { type: 'conda', manager: 'conda', packages: 4, outdated: 0 });
  t.like(await get('sample_oneshot'), { type: 'pip_oneshot', manager: 'pip', isPublic: false, packages: 3, outdated: 1 });
});

test('an unknown processor answers 403 like a private one, so that names cannot be probed', async (t) => {
  const token = await shared.login('stranger');
  const unknown = await rawGet(shared, '/processors/no_such_processor', tokenHeader(token));
  const hidden = await rawGet(shared, `/processors/${PRIVATE.name}`, tokenHeader(token));
  assertError(t, unknown, 403, 'PROCESSOR_NOT_ACCESSIBLE');
  assertError(t, hidden, 403, 'PROCESSOR_NOT_ACCESSIBLE');
});

const BAD_NAMES: [string, string][] = [
  ['a dot-dot name', '/processors/..%2F..%2Fetc'],
  ['a name with a space', '/processors/sample%20pip'],
  ['a name with a shell character', '/processors/sample_pip%3Bid'],
  ['a name of 200 characters', `/processors/${'a'.repeat(200)}`],
  ['a name starting with a dash', '/processors/-rf'],
];
for (const [title, path] of BAD_NAMES) {
  test(`GET /processors/:name with ${title} answers 400 INVALID_PROCESSOR_NAME`, async (t) => {
    const token = await shared.login('demo');
    assertError(t, await rawGet(shared, path, tokenHeader(token)), 400, 'INVALID_PROCESSOR_NAME');
  });
}

test('GET /processors/:name with broken URL encoding answers a 4xx, not a 500', async (t) => {
  const token = await shared.login('demo');
  const res = await rawGet(shared, '/processors/%ZZ', tokenHeader(token));
  t.true(res.status >= 400 && res.status < 500, `${res.status} ${res.body}`);
  t.is(typeof json<{ error: { message: string } }>(res).error.message, 'string');
});

for (const path of ['/me', '/processors', '/processors/sample_pip']) {
  test(`GET ${path} without a session answers 401`, async (t) => {
    assertError(t, await rawGet(shared, path), 401, 'UNAUTHENTICATED');
    assertError(t, await rawGet(shared, path, tokenHeader('not-a-session')), 401, 'UNAUTHENTICATED');
  });
}

test('GET /me names the user, whether they are an admin, and the node', async (t) => {
  const user = await shared.login('demo');
  const admin = await shared.login('root', { admin: true });
  t.deepEqual(json(await rawGet(shared, '/me', tokenHeader(user))), { userId: 'demo', admin: false, mainNode: true, nodeCode: 'wasdi' });
  t.deepEqual(json(await rawGet(shared, '/me', tokenHeader(admin))), { userId: 'root', admin: true, mainNode: true, nodeCode: 'wasdi' });
});

test('GET /me on a compute node says it is not the main node', async (t) => {
  const svc = await serviceFor(t, { nodeCode: 'node-a' });
  const token = await svc.login('demo');
  t.deepEqual(json(await rawGet(svc, '/me', tokenHeader(token))), { userId: 'demo', admin: false, mainNode: false, nodeCode: 'node-a' });
});

test('the last operation of a processor is its newest one, with who asked, its commands and its state', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const post = (commands: string[]) => svc.http.post('processors/sample_pip/operations', { headers: tokenHeader(token), json: { commands } });
  await post(['addPackage/numpy/']);
  const second = JSON.parse((await post(['removePackage/scipy/', 'upgradePackage/requests/2.32.3/'])).body) as { processObjId: string; lastStateChangeTimestamp: number };
  const row = json<ProcessorSummary>(await rawGet(svc, '/processors/sample_pip', tokenHeader(token)));
  t.deepEqual(row.lastOperation, {
    processObjId: second.processObjId, status: 'CREATED', at: second.lastStateChangeTimestamp,
    commands: ['removePackage/scipy/', 'upgradePackage/requests/2.32.3/'], userId: 'demo',
  });
  // The list carries the same row; processors without operations have none.
  const rows = json<ProcessorSummary[]>(await rawGet(svc, '/processors', tokenHeader(token)));
  t.deepEqual(rows.find((r) => r.name === 'sample_pip')?.lastOperation, row.lastOperation);
  t.is(rows.find((r) => r.name === 'sample_conda')?.lastOperation, null);
});

test('an operation that ended in error shows its error as the last operation', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  const res = await svc.http.post('processors/sample_pip/operations', { headers: tokenHeader(token), json: { commands: ['addPackage/numpy/'] } });
  const id = (JSON.parse(res.body) as { processObjId: string }).processObjId;
  // Cancelled while queued (the worker is stopped): it ends STOPPED with the reason.
  t.is((await svc.http.post(`operations/${id}/cancel`, { headers: tokenHeader(token) })).statusCode, 200);
  const row = json<ProcessorSummary>(await rawGet(svc, '/processors/sample_pip', tokenHeader(token)));
  t.like(row.lastOperation, { processObjId: id, status: 'STOPPED', error: { code: 'CANCELLED', message: 'cancelled by demo before it started' } });
});

test('a packagesInfo.json that cannot be read gives no counts and says why; the other processors are still listed', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  writeFileSync(join(svc.config.processorsDir, 'sample_conda', 'packagesInfo.json'), '{ not json');
  writeFileSync(join(svc.config.processorsDir, 'sample_oneshot', 'packagesInfo.json'), '');
  // The watcher reports the rewrites; until it does, the old snapshots are served.
  const { value: rows } = await pollUntil(
    async () => json<ProcessorSummary[]>(await rawGet(svc, '/processors', tokenHeader(token))),
    (list) => list.filter((r) => r.packages === null).length === 2,
  );
  t.deepEqual(rows.map((r) => r.name), ALL);
  t.like(rows.find((r) => r.name === 'sample_conda'), { packages: null, outdated: null, packagesError: { code: 'SNAPSHOT_UNREADABLE', message: 'packagesInfo.json is not valid JSON' } });
  t.like(rows.find((r) => r.name === 'sample_oneshot'), { packages: null, outdated: null, packagesError: { code: 'SNAPSHOT_EMPTY' } });
  t.like(rows.find((r) => r.name === 'sample_pip'), { packages: 7, outdated: 3 });
});

test('a processor without packagesInfo.json counts no packages', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('demo');
  rmSync(join(svc.config.processorsDir, 'sample_conda', 'packagesInfo.json'));
  const { value: row } = await pollUntil(
    async () => json<ProcessorSummary>(await rawGet(svc, '/processors/sample_conda', tokenHeader(token))),
    (r) => r.packages === 0,
  );
  t.like(row, { packages: 0, outdated: 0 });
  t.false('packagesError' in row);
});
