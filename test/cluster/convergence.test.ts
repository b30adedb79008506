import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Cluster, clusterSuite, freePort, OWNER, procenvCli, waitUntil } from '../helpers/cluster.ts';

// Compute nodes that were away, or arrived late, converge with the main node's history on their own.
const startCluster = clusterSuite([['cl-alpha', '1.0'], ['cl-alpha', '2.0'], ['cl-beta', '0.5']]);

async function inStep(c: Cluster, codes: string[], lines: number) {
  return waitUntil(`${codes.join(', ')} in step at ${lines} lines`, async () => {
    const v = await c.processorNodes();
    const ok = v.lines === lines && codes.every((code) => v.nodes.find((n) => n.nodeCode === code)?.state === 'in-step');
    return ok ? v : undefined;
  }, 60_000);
}

test.serial('a compute node stopped during a change converges once it is started again, and its delivery ends applied', async (t) => {
  t.timeout(150_000);
  const c = await startCluster(t);
  const [a, b] = [c.nodes.get('node-a')!, c.nodes.get('node-b')!];
  await b.stop();
  const id = await c.update('addPackage/cl-alpha/');
  // The main node keeps retrying node-b while node-a applies the change.
  const retrying = await waitUntil('node-a applied while node-b is retried', async () => {
    const op = await c.operation(id);
    const byNode = Object.fromEntries((op.nodes ?? []).map((n) => [n.nodeCode, n]));
    return op.status === 'DONE' && byNode['node-a']?.state === 'applied' && byNode['node-b']?.state === 'pending' && byNode['node-b'].attempts >= 2 ? byNode : undefined;
  }, 60_000);
  t.truthy(retrying['node-b']!.lastError, 'the refused connection is recorded');
  t.is((await a.installed())['cl-alpha'], '2.0');
  t.is((await c.processorNodes()).nodes.find((n) => n.nodeCode === 'node-b')?.state, 'unreachable');
  const nodes = await c.main.internal('nodes');
  const viewB = (nodes.body as { nodeCode: string; reachable: boolean; pendingDeliveries: number }[]).find((n) => n.nodeCode === 'node-b');
  t.deepEqual([viewB?.reachable, viewB?.pendingDeliveries], [false, 1]);

  t.is((await b.installed())['cl-alpha'], undefined);
  await b.start();
  await inStep(c, ['node-a', 'node-b'], 1);
  t.is((await b.installed())['cl-alpha'], '2.0', 'node-b caught up without help');
  const op = await c.settled(id);
  t.is(op.nodes.find((n) => n.nodeCode === 'node-b')?.state, 'applied', JSON.stringify(op.nodes));
  // The catch-up and the retried delivery both reach node-b; the change runs there once.
  await b.quiet();
  const ran = (await b.operations()).filter((o) => o.commands.includes('addPackage/cl-alpha/'));
  t.is(ran.length, 1, JSON.stringify(ran));
  t.is(ran[0]!.status, 'DONE');
  t.is(op.nodes.find((n) => n.nodeCode === 'node-b')?.remoteOperationId, ran[0]!.processObjId, 'the delivery points at the operation that ran it');
  t.deepEqual(c.nodesLoggingKey(), []);
});

test.serial('a compute node registered after the changes catches up from the history, then receives the next change', async (t) => {
  t.timeout(150_000);
  const c = await startCluster(t, { computeNodes: ['node-a'] });
  const changes: string[] = [];
  for (const command of ['addPackage/cl-alpha/1.0/', 'addPackage/cl-beta/']) {
    changes.push(await c.update(command));
    const op = await c.settled(changes.at(-1)!);
    t.deepEqual(op.nodes.map((n) => `${n.nodeCode}:${n.state}`), ['node-a:applied']);
  }
  // Registered with the real CLI on the running main node's store, then started.
  const late = c.node('node-c');
  late.port = await freePort();
  const out = await procenvCli(c.main.dataDir, ['node', 'add', 'node-c', `http://127.0.0.1:${late.port}`]);
  t.regex(out, /node node-c saved/);
  await late.addProcessor(c.pip);
  await late.start();
  await inStep(c, ['node-a', 'node-c'], 2);
  const pkgs = await late.installed();
  t.deepEqual([pkgs['cl-alpha'], pkgs['cl-beta']], ['1.0', '0.5']);
  // The catch-up is one local operation holding the missing lines in the main node's order, and naming the main
  // node's operations that wrote them.
  const ops = await late.operations();
  t.deepEqual(ops.map((o) => [o.userId, o.status, o.commands, o.sync]), [
    ['procenv-sync', 'DONE', ['addPackage/cl-alpha/1.0/', 'addPackage/cl-beta/'], { epoch: (await c.processorNodes()).epoch, from: 0, to: 2, origins: changes }],
  ]);
  // Now registered: the next change is delivered to it as well.
  const next = await c.settled(await c.update('upgradePackage/cl-alpha/'));
  t.deepEqual(next.nodes.map((n) => `${n.nodeCode}:${n.state}`).sort(), ['node-a:applied', 'node-c:applied'], JSON.stringify(next.nodes));
  t.is((await late.installed())['cl-alpha'], '2.0');
  const listed = (await c.main.internal('nodes')).body as { nodeCode: string; reachable: boolean }[];
  t.true(listed.find((n) => n.nodeCode === 'node-c')?.reachable);
  t.deepEqual(c.nodesLoggingKey(), []);
});

test.serial('after a reset on the main node, compute nodes follow the new history without re-applying the old lines', async (t) => {
  t.timeout(150_000);
  // A short delivery deadline: node-b's delivery of the change made while it is away ends failed, so what it
  // applies when it is back comes from the history alone.
  const c = await startCluster(t, { env: { PROCENV_CLUSTER_DELIVERY_DEADLINE_SECONDS: '3' } });
  const [a, b] = [c.nodes.get('node-a')!, c.nodes.get('node-b')!];
  const old = 'addPackage/cl-alpha/1.0/';
  t.deepEqual((await c.settled(await c.update(old))).nodes.map((n) => n.state), ['applied', 'applied']);
  const before = await inStep(c, ['node-a', 'node-b'], 1);

  const bBefore = new Set((await b.operations()).map((o) => o.processObjId));
  await b.stop();
  const reset = await c.main.asOwner('packageManager/reset', { processorId: c.pip.processorId, workspace: '-' });
  t.is(reset.status, 200);
  const history = await c.main.asOwner('packageManager/environmentActions', { name: c.pip.name });
  t.deepEqual(history.body, []);
  const epoch = String(history.headers['x-procenv-history-epoch']);
  t.not(epoch, before.epoch, 'the reset started a new history epoch');
  const aBefore = new Set((await a.operations()).map((o) => o.processObjId));

  const id = await c.update('addPackage/cl-beta/');
  const op = await c.settled(id);
  t.like(Object.fromEntries(op.nodes.map((n) => [n.nodeCode, n.state])), { 'node-a': 'applied', 'node-b': 'failed' });
  await b.start();
  const after = await inStep(c, ['node-a', 'node-b'], 1);
  t.is(after.epoch, epoch);
  // The catch-up applied the change whose delivery had failed: node-b's delivery now says so.
  const caughtUp = await waitUntil('node-b\'s delivery applied by the catch-up', async () => {
    const d = (await c.operation(id)).nodes?.find((n) => n.nodeCode === 'node-b');
    return d?.state === 'applied' ? d : undefined;
  });
  t.truthy(caughtUp.lastError, 'the earlier failure stays as the last error');
  await Promise.all([a.quiet(), b.quiet()]);
  for (const node of [a, b]) {
    const state = await node.syncState();
    t.deepEqual([state.epoch, state.applied], [epoch, 1], node.code);
    t.is((await node.installed())['cl-beta'], '0.5', node.code);
  }
  // Since the reset: node-a ran the delivered change only; node-b caught up with the new history's one line.
  const sinceReset = (await a.operations()).filter((o) => !aBefore.has(o.processObjId));
  t.deepEqual(sinceReset.map((o) => [o.userId, o.commands]), [[OWNER, ['addPackage/cl-beta/']]]);
  const bSince = (await b.operations()).filter((o) => !bBefore.has(o.processObjId));
  t.deepEqual(bSince.map((o) => [o.userId, o.status, o.commands, o.sync]), [['procenv-sync', 'DONE', ['addPackage/cl-beta/'], { epoch, from: 0, to: 1, origins: [id] }]]);
  t.deepEqual(c.nodesLoggingKey(), []);
});

test.serial('a history shortened by hand on the main node: compute nodes step back to its length without running anything again', async (t) => {
  t.timeout(150_000);
  const c = await startCluster(t, { computeNodes: ['node-a'] });
  const a = c.nodes.get('node-a')!;
  for (const command of ['addPackage/cl-alpha/1.0/', 'addPackage/cl-beta/']) await c.settled(await c.update(command));
  await inStep(c, ['node-a'], 2);
  await a.quiet();
  const before = (await a.operations()).length;
  // An operator drops the last line of envActionsList.txt on the main node; the epoch stays the same.
  const file = join(c.main.processorsDir, c.pip.name, 'envActionsList.txt');
  writeFileSync(file, 'addPackage/cl-alpha/1.0/\n');
  const view = await inStep(c, ['node-a'], 1);
  t.is(view.nodes.find((n) => n.nodeCode === 'node-a')?.applied, 1);
  // The kept line's change already ran on node-a (the main node names it), so no catch-up runs it a second time.
  await a.quiet();
  t.is((await a.operations()).length, before);
});
