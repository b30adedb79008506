import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { TestService } from '../helpers/service.ts';
import {
  ENDPOINTS, SAMPLES, allOperations, endpointPath, expiredToken, hashTree, json, rawGet, serviceFor, share, tokenHeader,
  type Endpoint,
} from './support.ts';

/**
 * The permission matrix (reference §8, with procenv's deviation: reset needs write). Access: public, owner, or
 * shared with any right; write: owner or shared with `write`; admins everything. The private processor is
 * sample_oneshot (isPublic 0, owner demo); the "public" row is a stranger on the public sample_pip.
 */
interface Caller {
  title: string;
  processor: { name: string; id: string; owner: string };
  /** Prepares the caller in a fresh service; answers its token (undefined: no header at all). */
  token(svc: TestService): Promise<string | undefined>;
  expect: Record<Endpoint, 200 | 401 | 403>;
}

const PRIVATE = SAMPLES.oneshot;
const ALL_OK = { listPackages: 200, managerVersion: 200, environmentActions: 200, environmentupdate: 200, reset: 200 } as const;
const READ_ONLY = { listPackages: 200, managerVersion: 200, environmentActions: 200, environmentupdate: 403, reset: 403 } as const;
const NONE = { listPackages: 403, managerVersion: 403, environmentActions: 403, environmentupdate: 403, reset: 403 } as const;
const UNAUTH = { listPackages: 401, managerVersion: 401, environmentActions: 401, environmentupdate: 401, reset: 401 } as const;

const CALLERS: Caller[] = [
  { title: 'the owner', processor: PRIVATE, token: (svc) => svc.login('demo'), expect: ALL_OK },
  { title: 'a stranger on a public processor', processor: SAMPLES.pip, token: (svc) => svc.login('stranger'), expect: READ_ONLY },
  {
    title: 'a read-only sharer', processor: PRIVATE, expect: READ_ONLY,
    token: async (svc) => {
      const token = await svc.login('reader');
      await share(svc, PRIVATE, 'reader', 'read');
      return token;
    },
  },
  {
    title: 'a write sharer', processor: PRIVATE, expect: ALL_OK,
    token: async (svc) => {
      const token = await svc.login('writer');
      await share(svc, PRIVATE, 'writer', 'write');
      return token;
    },
  },
  { title: 'a stranger', processor: PRIVATE, token: (svc) => svc.login('stranger'), expect: NONE },
  {
    title: 'a write sharer of another processor', processor: PRIVATE, expect: NONE,
    token: async (svc) => {
      const token = await svc.login('elsewhere');
      await share(svc, SAMPLES.conda, 'elsewhere', 'write');
      return token;
    },
  },
  { title: 'an admin', processor: PRIVATE, token: (svc) => svc.login('root', { admin: true }), expect: ALL_OK },
  { title: 'a caller without a token', processor: PRIVATE, token: async () => undefined, expect: UNAUTH },
  {
    title: 'the owner with an expired token', processor: PRIVATE, expect: UNAUTH,
    // An expired session of the owner himself: the owner's rights do not outlive the session.
    token: (svc) => expiredToken(svc, 'demo'),
  },
];

const HISTORY = 'addPackage/numpy/\naddPackage/scipy/1.11.0/\n';
const CODES: Record<number, string> = { 401: 'UNAUTHENTICATED', 403: 'PROCESSOR_NOT_ACCESSIBLE' };

for (const caller of CALLERS) {
  for (const endpoint of ENDPOINTS) {
    const status = caller.expect[endpoint];
    test(`${endpoint} by ${caller.title} answers ${status}`, async (t) => {
      const svc = await serviceFor(t);
      const folder = join(svc.config.processorsDir, caller.processor.name);
      // A history to read and to reset (the copied samples: sample_oneshot has none of its own).
      writeFileSync(join(folder, 'envActionsList.txt'), HISTORY);
      const token = await caller.token(svc);
      const before = hashTree(svc.config.processorsDir);

      const res = await rawGet(svc, endpointPath(endpoint, caller.processor, 'addPackage/numpy/1.2.3/'), tokenHeader(token));
      t.is(res.status, status, res.body.slice(0, 200));

      const operations = await allOperations(svc);
      if (status !== 200) {
        const code = status === 403 && (endpoint === 'environmentupdate' || endpoint === 'reset') ? 'PROCESSOR_NOT_WRITABLE' : CODES[status];
        t.is(json<{ error: { code: string } }>(res).error.code, code);
        // A refused call changes nothing: no file, no operation.
        t.is(hashTree(svc.config.processorsDir), before, 'the processors folder is unchanged');
        t.deepEqual(operations, []);
        return;
      }
      switch (endpoint) {
        case 'listPackages':
          t.true(json<unknown[]>(res).length > 0);
          break;
        case 'managerVersion':
          t.is(json<{ name: string }>(res).name, 'pip');
          break;
        case 'environmentActions':
          t.deepEqual(json(res), ['addPackage/numpy/', 'addPackage/scipy/1.11.0/']);
          break;
        case 'environmentupdate': {
          t.is(operations.length, 1);
          t.like(operations[0]!, { processObjId: json<{ processObjId: string }>(res).processObjId, processorId: caller.processor.id, status: 'CREATED' });
          t.deepEqual(operations[0]!.commands, ['addPackage/numpy/1.2.3/']);
          t.is(hashTree(svc.config.processorsDir), before, 'a request only queues; it changes no file');
          break;
        }
        case 'reset':
          t.false(existsSync(join(folder, 'envActionsList.txt')));
          break;
      }
      if (endpoint !== 'environmentupdate') t.deepEqual(operations, []);
    });
  }
}

test('the operation of an admin or a write sharer records who asked, not the owner', async (t) => {
  const svc = await serviceFor(t);
  const writer = await svc.login('writer');
  await share(svc, PRIVATE, 'writer', 'write');
  const admin = await svc.login('root', { admin: true });
  for (const [token, userId] of [[writer, 'writer'], [admin, 'root']] as const) {
    const res = await rawGet(svc, endpointPath('environmentupdate', PRIVATE, 'removePackage/numpy/'), tokenHeader(token));
    t.is(res.status, 200);
    t.is((await svc.store.findOperation(json<{ processObjId: string }>(res).processObjId))?.userId, userId);
  }
});

test('a sharing downgraded from write to read takes effect on the next request', async (t) => {
  const svc = await serviceFor(t);
  const token = await svc.login('bob');
  await share(svc, PRIVATE, 'bob', 'write');
  t.is((await rawGet(svc, endpointPath('environmentupdate', PRIVATE, 'addPackage/numpy/'), tokenHeader(token))).status, 200);
  await share(svc, PRIVATE, 'bob', 'read');
  t.is((await rawGet(svc, endpointPath('environmentupdate', PRIVATE, 'addPackage/numpy/'), tokenHeader(token))).status, 403);
  t.is((await rawGet(svc, endpointPath('listPackages', PRIVATE), tokenHeader(token))).status, 200);
  t.is((await allOperations(svc)).length, 1);
});

test('unknown processors: read endpoints answer 403, environmentupdate 400, reset 403, for an admin and a stranger', async (t) => {
  const svc = await serviceFor(t);
  const ghost = { name: 'ghost_app', id: 'ghost-id' };
  const expected: Record<Endpoint, number> = { listPackages: 403, managerVersion: 403, environmentActions: 403, environmentupdate: 400, reset: 403 };
  for (const token of [await svc.login('root', { admin: true }), await svc.login('stranger')]) {
    for (const endpoint of ENDPOINTS) {
      t.is((await rawGet(svc, endpointPath(endpoint, ghost, 'addPackage/numpy/'), tokenHeader(token))).status, expected[endpoint], endpoint);
    }
  }
  t.deepEqual(await allOperations(svc), []);
});

test('environmentupdate checks write permission before the package manager and the command (WASDI order)', async (t) => {
  const svc = await serviceFor(t);
  await svc.store.saveProcessor({ processorId: 'idl-1', name: 'idl_app', type: 'ubuntu_idl372', userId: 'demo', isPublic: true, source: 'store' });
  const stranger = await svc.login('stranger');
  const idl = await rawGet(svc, endpointPath('environmentupdate', { name: 'idl_app', id: 'idl-1' }, 'addPackage/numpy/'), tokenHeader(stranger));
  t.is(json<{ error: { code: string } }>(idl).error.code, 'PROCESSOR_NOT_WRITABLE');
  const bad = await rawGet(svc, endpointPath('environmentupdate', SAMPLES.pip, 'getPackage/x/'), tokenHeader(stranger));
  t.is(json<{ error: { code: string } }>(bad).error.code, 'PROCESSOR_NOT_WRITABLE');
  const owner = await svc.login('demo');
  const idlOwner = await rawGet(svc, endpointPath('environmentupdate', { name: 'idl_app', id: 'idl-1' }, 'getPackage/x/'), tokenHeader(owner));
  t.is(json<{ error: { code: string } }>(idlOwner).error.code, 'NO_PACKAGE_MANAGER', 'the manager is checked before the command');
  t.deepEqual(await allOperations(svc), []);
});
