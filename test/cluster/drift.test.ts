import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { clusterSuite, OWNER, PIP, waitUntil } from '../helpers/cluster.ts';
import { cleanPipEnv } from '../helpers/pip-env.ts';

const run = promisify(execFile);

// Real procenv processes on 127.0.0.1, real pip in real venvs, local wheels (the app pins its dependency).
const startCluster = clusterSuite([['dr-app', '1.0', ['dr-dep==1.0']], ['dr-dep', '1.0'], ['dr-extra', '0.3']]);

test.serial('a compute node whose venv was changed by hand is named as drifted, though its place in the history is in step', async (t) => {
  t.timeout(120_000);
  const c = await startCluster(t);
  const [a, b] = [c.nodes.get('node-a')!, c.nodes.get('node-b')!];
  const op = await c.settled(await c.update('addPackage/dr-app/'));
  t.is(op.status, 'DONE', c.dump());
  // Every node recorded its own generation of the change; the same packages make the same hash everywhere.
  const together = await waitUntil('both nodes in step with the main node\'s generation', async () => {
    const v = await c.processorNodes();
    return v.generation && v.nodes.length === 2 && v.nodes.every((n) => n.state === 'in-step' && n.generation) ? v : undefined;
  });
  t.deepEqual(together.drifted, []);
  t.true(together.nodes.every((n) => n.generation!.hash === together.generation!.hash && n.drifted === false), JSON.stringify(together));

  // By hand on node-a, as a tenant's shell would: procenv learns of it at node-a's next refresh.
  await run(join(a.venv(), 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-index', '--find-links', c.fixture.wheels, 'dr-extra'], { env: cleanPipEnv() });
  const refresh = await a.internal('packageManager/environmentupdate', { processorId: c.pip.processorId, workspace: '-' });
  t.is(refresh.status, 200, JSON.stringify(refresh.body));
  await a.quiet();
  const apart = await waitUntil('node-a named as drifted', async () => {
    const v = await c.processorNodes();
    return v.drifted.length > 0 ? v : undefined;
  });
  t.deepEqual(apart.drifted, ['node-a']);
  const byCode = Object.fromEntries(apart.nodes.map((n) => [n.nodeCode, n]));
  t.like(byCode['node-a'], { state: 'in-step', drifted: true, generation: { number: 2 } });
  t.like(byCode['node-b'], { state: 'in-step', drifted: false, generation: { number: 1, hash: apart.generation!.hash } });
  // node-a's own generations say what changed there, and that no change of the main node's made it.
  const list = await a.internal(`processors/${PIP}/generations`);
  t.is(list.status, 200);
  t.like(list.body[0], { number: 2, cause: 'operation', userId: 'procenv-cluster' });
  const diff = await a.internal(`processors/${PIP}/generations/diff`, { from: '1', to: '2' });
  t.deepEqual(diff.body.added, [{ name: 'dr-extra', version: '0.3', requested: true }]);
  t.is((await b.installed())['dr-extra'], undefined);
});

test.serial('a restore on the main node reaches the compute nodes as exact pins, and every node ends on the restored generation\'s hash', async (t) => {
  t.timeout(180_000);
  const c = await startCluster(t);
  const first = await c.settled(await c.update('addPackage/dr-app/'));
  t.is(first.status, 'DONE', c.dump());
  const target = (await c.processorNodes()).generation!;
  const second = await c.settled(await c.update('addPackage/dr-extra/'));
  t.is(second.status, 'DONE', c.dump());
  for (const node of c.nodes.values()) t.is((await node.installed())['dr-extra'], '0.3');

  // A hold placed on the main node reaches each compute node with the main node's history.
  const placed = await c.main.putAsOwner(`processors/${PIP}/holds/dr-app`, { reason: 'the release build needs it' });
  t.is(placed.status, 201, JSON.stringify(placed.body));
  for (const node of c.nodes.values()) {
    const held = await waitUntil(`${node.code} follows the hold`, async () => {
      const res = await node.internal(`processors/${PIP}/holds`);
      return res.status === 200 && res.body.length === 1 ? res.body : undefined;
    });
    t.like(held[0], { key: 'dr-app', reason: 'the release build needs it', userId: OWNER }, node.code);
  }

  const list = await c.main.asOwner(`processors/${PIP}/generations`);
  const restoreTo = (list.body as { number: number; hash: string }[]).find((g) => g.hash === target.hash)!;
  const restore = await c.main.postAsOwner(`processors/${PIP}/generations/${restoreTo.number}/restore`);
  t.is(restore.status, 202, JSON.stringify(restore.body));
  t.like(restore.body, { exact: true, commands: ['removePackage/dr-extra/'] });
  const id = restore.body.processObjId as string;
  // Delivered as exact pins, as any change is delivered: each compute node runs it as the main node did.
  const done = await waitUntil('the restore applied on both compute nodes', async () => {
    const op = await c.operation(id);
    return op.status === 'DONE' && op.nodes?.length === 2 && op.nodes.every((n) => n.state === 'applied') ? op : undefined;
  }, 90_000);
  t.is(done.status, 'DONE');
  for (const node of c.nodes.values()) {
    const ops = await node.operations() as { origin?: { operationId: string }; exact?: boolean; status: string; commands: string[] }[];
    t.like(ops.find((o) => o.origin?.operationId === id), { status: 'DONE', commands: ['removePackage/dr-extra/'], exact: true }, node.code);
    t.is((await node.installed())['dr-extra'], undefined, node.code);
  }
  const after = await waitUntil('every node on the restored hash', async () => {
    const v = await c.processorNodes();
    return v.generation?.hash === target.hash && v.nodes.every((n) => n.generation?.hash === target.hash) ? v : undefined;
  });
  t.deepEqual(after.drifted, []);
});
