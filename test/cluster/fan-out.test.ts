import { randomUUID } from 'node:crypto';
import test from 'ava';
import { clusterSuite, MAIN_CODE, OWNER, PIP, waitUntil } from '../helpers/cluster.ts';
import { openEvents } from '../helpers/sse.ts';

// Real procenv processes on 127.0.0.1 (a main node and compute nodes), real pip in real venvs, local wheels.
const startCluster = clusterSuite([['cl-alpha', '1.0'], ['cl-alpha', '2.0'], ['cl-beta', '0.5']]);

test.serial('a change on the main node is installed on every compute node and each delivery ends applied', async (t) => {
  t.timeout(120_000);
  const c = await startCluster(t);
  const computes = [...c.nodes.values()];
  for (const node of computes) t.is((await node.installed())['cl-alpha'], undefined, `${node.code} starts without cl-alpha`);
  // Compute nodes hold no user and no session: the owner's token from the main node is refused there...
  t.is((await computes[0]!.asOwner('packageManager/listPackages', { name: c.pip.name })).status, 401);

  const events = await openEvents(c.main.url, { headers: { 'x-session-token': c.fixture.token } });
  t.teardown(() => events.close());
  const id = await c.update('addPackage/cl-alpha/');
  const op = await c.settled(id);
  t.is(op.status, 'DONE', c.dump());
  t.is((await c.main.installed())['cl-alpha'], '2.0');
  t.deepEqual(op.nodes.map((n) => `${n.nodeCode}:${n.state}`).sort(), ['node-a:applied', 'node-b:applied'], JSON.stringify(op.nodes));
  // Each delivery's way, as the main node's event stream told it: stored, accepted, applied.
  const deliveries = await events.until((e) => ['node-a', 'node-b'].every((n) => e.some((x) => x.type === 'delivery.changed' && x.nodeCode === n && x.state === 'applied')));
  for (const node of ['node-a', 'node-b']) {
    const states = deliveries.filter((x) => x.type === 'delivery.changed' && x.nodeCode === node && x.operationId === id).map((x) => x.state);
    t.deepEqual(states.filter((s, i) => s !== states[i - 1]), ['pending', 'delivered', 'applied'], node);
  }
  // ...yet the node-to-node deliveries ran there, recorded under the user who asked on the main node.
  for (const d of op.nodes) {
    const node = c.nodes.get(d.nodeCode)!;
    t.true(d.attempts >= 1);
    t.truthy(d.remoteOperationId, `${d.nodeCode} has its remote operation id`);
    const remote = await node.internal(`operations/${d.remoteOperationId}`);
    t.is(remote.status, 200);
    t.is(remote.body.status, 'DONE');
    t.is(remote.body.nodeCode, d.nodeCode);
    t.deepEqual(remote.body.commands, ['addPackage/cl-alpha/']);
    t.is(remote.body.userId, OWNER);
    t.deepEqual(remote.body.origin, { nodeCode: MAIN_CODE, operationId: id });
    t.is((await node.installed())['cl-alpha'], '2.0', `${d.nodeCode}'s venv has the package`);
  }
  const view = await waitUntil('both compute nodes in step', async () => {
    const v = await c.processorNodes();
    return v.nodes.length === 2 && v.nodes.every((n) => n.state === 'in-step') ? v : undefined;
  });
  t.is(view.lines, 1);
  t.true(view.nodes.every((n) => n.applied === 1));
  // The main node names the operation behind each history line, so the delivered line is not installed again.
  const history = await c.main.internal(`cluster/processors/${PIP}/history`, { from: '0' });
  t.deepEqual(history.body, { nodeCode: MAIN_CODE, epoch: '0', lines: ['addPackage/cl-alpha/'], from: 0, origins: { 0: id }, holds: [] });
  t.deepEqual((await c.main.internal(`cluster/processors/${PIP}/history`, { from: '1' })).body, { nodeCode: MAIN_CODE, epoch: '0', lines: ['addPackage/cl-alpha/'], from: 1, origins: {}, holds: [] });
  t.is((await c.main.internal(`cluster/processors/${PIP}/history`, { from: '-1' })).status, 400);
  t.is((await c.main.asOwner(`cluster/processors/${PIP}/history`)).status, 403, 'people do not read the cluster routes');
  for (const node of computes) t.deepEqual((await node.operations()).map((o) => o.userId), [OWNER], node.code);
  t.deepEqual(c.nodesLoggingKey(), []);
});

test.serial('consecutive changes reach the compute nodes in order: the last one wins everywhere', async (t) => {
  t.timeout(120_000);
  const c = await startCluster(t);
  const first = await c.update('addPackage/cl-alpha/1.0/');
  const second = await c.update('upgradePackage/cl-alpha/');
  const third = await c.update('addPackage/cl-beta/');
  for (const id of [first, second, third]) {
    const op = await c.settled(id);
    t.is(op.status, 'DONE');
    t.deepEqual(op.nodes.map((n) => n.state), ['applied', 'applied'], JSON.stringify(op.nodes));
  }
  await waitUntil('both compute nodes in step', async () => (await c.processorNodes()).nodes.every((n) => n.state === 'in-step'));
  await Promise.all([...c.nodes.values()].map((n) => n.quiet()));
  for (const node of [c.main, ...c.nodes.values()]) {
    const pkgs = await node.installed();
    t.is(pkgs['cl-alpha'], '2.0', `${node.code}: the upgrade ran after the pinned install`);
    t.is(pkgs['cl-beta'], '0.5', node.code);
  }
  // Each compute node ran the three delivered commands in the main node's order.
  for (const node of c.nodes.values()) {
    const delivered = (await node.operations()).filter((o) => o.origin).reverse().flatMap((o) => o.commands);
    t.deepEqual(delivered, ['addPackage/cl-alpha/1.0/', 'upgradePackage/cl-alpha/', 'addPackage/cl-beta/'], node.code);
    // A catch-up running one of those lines again after the later ones would undo the upgrade.
    t.deepEqual((await node.operations()).filter((o) => o.sync).map((o) => o.commands), [], node.code);
  }
  t.deepEqual(c.nodesLoggingKey(), []);
});

test.serial('a processor present on only one compute node: that node applies the change, the other is skipped', async (t) => {
  t.timeout(120_000);
  const solo = { name: 'clu_solo', processorId: randomUUID() };
  const c = await startCluster(t, { processors: [{ processor: solo, on: ['node-a'] }] });
  const [a, b] = [c.nodes.get('node-a')!, c.nodes.get('node-b')!];
  const op = await c.settled(await c.update('addPackage/cl-beta/', solo));
  t.is(op.status, 'DONE');
  const byNode = Object.fromEntries(op.nodes.map((n) => [n.nodeCode, n]));
  t.is(byNode['node-a']?.state, 'applied', JSON.stringify(op.nodes));
  t.is(byNode['node-b']?.state, 'skipped', JSON.stringify(op.nodes));
  t.regex(byNode['node-b']?.lastError ?? '', /not on this node/);
  t.is(byNode['node-b']?.remoteOperationId, undefined);
  t.is((await a.installed(solo.name))['cl-beta'], '0.5');
  // node-b recorded nothing, and its copy of the other processor was left alone.
  const all = await b.internal('operations', { limit: '500' });
  t.is(all.status, 200);
  t.deepEqual(all.body, []);
  t.is((await b.installed())['cl-beta'], undefined);
  const view = await waitUntil('node-a in step, node-b absent', async () => {
    const v = await c.processorNodes(solo.name);
    const states = Object.fromEntries(v.nodes.map((n) => [n.nodeCode, n.state]));
    return states['node-a'] === 'in-step' && states['node-b'] === 'absent' ? v : undefined;
  });
  t.is(view.lines, 1);
});
