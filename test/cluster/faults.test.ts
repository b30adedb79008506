import test from 'ava';
import { CLUSTER_HEADER, clusterSuite, type DeliveryView, MAIN_CODE, OWNER, waitUntil } from '../helpers/cluster.ts';
import { startFakeComputeNode } from './fake-compute-node.ts';

// Faulty peers: FAKE compute nodes (500, hanging, failing then accepting), loops, wrong keys, a main node that
// crashes, next to real nodes.
const startCluster = clusterSuite([['cl-alpha', '2.0'], ['cl-beta', '0.5']]);

function byNode(nodes: DeliveryView[] | undefined): Record<string, DeliveryView | undefined> {
  return Object.fromEntries((nodes ?? []).map((n) => [n.nodeCode, n]));
}

test.serial('failing and hanging compute nodes (fakes) are retried until the deadline while the real node applies at once', async (t) => {
  t.timeout(150_000);
  const c = await startCluster(t, {
    computeNodes: ['node-a'],
    // Short retry steps and a deadline well past the real node's pip run: on a loaded machine that run alone can
    // take most of a short deadline, and the faulty nodes must still be seen retried before it passes.
    env: {
      PROCENV_CLUSTER_REQUEST_TIMEOUT_MS: '800', PROCENV_CLUSTER_DELIVERY_DEADLINE_SECONDS: '30',
      PROCENV_CLUSTER_RETRY_BASE_MS: '300', PROCENV_CLUSTER_RETRY_MAX_MS: '2000',
    },
  });
  const fakes = { 'fake-500': await startFakeComputeNode('error500'), 'fake-hang': await startFakeComputeNode('hang'), 'fake-flaky': await startFakeComputeNode({ failFirst: 2 }) };
  c.onClose(() => Promise.all(Object.values(fakes).map((f) => f.close())).then(() => undefined));
  await c.register(Object.entries(fakes).map(([code, f]) => ({ code, url: f.url })));

  const id = await c.update('addPackage/cl-alpha/');
  const first = await waitUntil('node-a applied', async () => {
    const d = byNode((await c.operation(id)).nodes);
    return d['node-a']?.state === 'applied' ? d : undefined;
  }, 60_000);
  t.is((await c.nodes.get('node-a')!.installed())['cl-alpha'], '2.0');
  t.is(first['fake-500']?.state, 'pending', 'the failing node did not hold the real one back');
  t.is(first['fake-hang']?.state, 'pending');

  // attempts grows, with the reason of the last failure; each attempt reached the fake.
  const later = await waitUntil('more attempts on the faulty nodes', async () => {
    const d = byNode((await c.operation(id)).nodes);
    return (d['fake-500']?.attempts ?? 0) > (first['fake-500']?.attempts ?? 0) + 2 && (d['fake-hang']?.attempts ?? 0) >= 2 ? d : undefined;
  }, 30_000);
  t.regex(later['fake-500']!.lastError ?? '', /500/);
  t.regex(later['fake-hang']!.lastError ?? '', /timed out/);
  t.true(fakes['fake-500'].deliveries > 1 && fakes['fake-500'].deliveries >= later['fake-500']!.attempts);
  t.true(fakes['fake-hang'].deliveries > 1);

  // The flaky node accepted its third delivery; the main node asked it how its operation ended.
  const flaky = fakes['fake-flaky'];
  const sent = flaky.requests.find((r) => r.path === '/packageManager/environmentupdate')!;
  t.deepEqual([sent.query.get('processorId'), sent.query.get('workspace'), sent.query.getAll('updateCommand')], [c.pip.processorId, '-', ['addPackage/cl-alpha/']]);
  t.deepEqual([sent.headers[CLUSTER_HEADER], sent.headers['x-procenv-user'], sent.headers['x-procenv-via'], sent.headers['x-procenv-origin-operation']], [c.key, OWNER, MAIN_CODE, id]);
  t.is(sent.headers['x-session-token'], undefined, 'node-to-node calls carry no user session');

  const end = await c.settled(id, 60_000);
  const d = byNode(end.nodes);
  t.like(d['fake-flaky'], { state: 'applied', attempts: 3, remoteOperationId: 'fake-op-3' });
  t.true(flaky.requests.some((r) => r.path === '/operations/fake-op-3'), 'the result was followed up');
  t.is(flaky.deliveries, 3, 'an accepted delivery is not sent again');
  // Past the deadline the faulty ones end failed, and are no longer tried.
  t.like(d['fake-500'], { state: 'failed' });
  t.like(d['fake-hang'], { state: 'failed' });
  t.regex(d['fake-500']!.lastError ?? '', /deadline/);
  const count = fakes['fake-500'].deliveries;
  await new Promise((r) => setTimeout(r, 1500));
  t.is(fakes['fake-500'].deliveries, count);
  t.true(count < 100, `backoff, not a tight loop: ${count} requests in ~20 s`);
  const nodes = (await c.main.internal('nodes')).body as { nodeCode: string; reachable: boolean; failedDeliveries: number }[];
  t.like(nodes.find((n) => n.nodeCode === 'fake-500'), { reachable: false, failedDeliveries: 1 });
  t.like(nodes.find((n) => n.nodeCode === 'node-a'), { reachable: true, failedDeliveries: 0 });
  t.deepEqual(c.nodesLoggingKey(), []);
});

test.serial('forwarding loops are refused: 508 on the main node, and a delivery to the main node itself fails once', async (t) => {
  t.timeout(120_000);
  const c = await startCluster(t, { computeNodes: ['node-a'] });
  const a = c.nodes.get('node-a')!;
  const change = { processorId: c.pip.processorId, workspace: '-', updateCommand: 'addPackage/cl-beta/' };
  const toMain = await c.main.internal('packageManager/environmentupdate', change, { 'x-procenv-via': 'node-a' });
  t.is(toMain.status, 508);
  t.is(toMain.body.error.code, 'FORWARDING_LOOP');
  const backToA = await a.internal('packageManager/environmentupdate', change, { 'x-procenv-via': `${MAIN_CODE},node-a` });
  t.is(backToA.status, 508);
  t.is(backToA.body.error.code, 'FORWARDING_LOOP');
  t.deepEqual(await c.main.operations(), []);
  t.deepEqual(await a.operations(), []);

  // The main node registered as one of its own compute nodes, under another code.
  await c.register([{ code: 'itself', url: c.main.url }]);
  const id = await c.update('addPackage/cl-beta/');
  const op = await c.settled(id);
  const d = byNode(op.nodes);
  t.like(d['itself'], { state: 'failed', attempts: 1 });
  t.regex(d['itself']!.lastError ?? '', /508/);
  t.like(d['node-a'], { state: 'applied' });
  t.is((await a.installed())['cl-beta'], '0.5');
  await new Promise((r) => setTimeout(r, 1500));
  t.like(byNode((await c.operation(id)).nodes)['itself'], { state: 'failed', attempts: 1 });
  t.deepEqual((await c.main.operations()).map((o) => o.processObjId), [id], 'the loop created no operation on the main node');
  t.deepEqual(c.nodesLoggingKey(), []);
});

test.serial('a wrong cluster key is refused with 401 and records nothing on the compute node', async (t) => {
  t.timeout(120_000);
  const c = await startCluster(t, { computeNodes: ['node-a'] });
  const a = c.nodes.get('node-a')!;
  const change = { processorId: c.pip.processorId, workspace: '-', updateCommand: 'addPackage/cl-beta/' };
  const wrongKeys = [`${c.key.slice(0, -1)}x`, `k-${Date.now()}`, `${c.key}${c.key}`];
  for (const key of wrongKeys) {
    const res = await a.internal('packageManager/environmentupdate', change, { [CLUSTER_HEADER]: key, 'x-procenv-via': MAIN_CODE });
    t.is(res.status, 401, key);
    t.is(typeof res.body.error.code, 'string');
    t.is((await a.internal('cluster/ping', undefined, { [CLUSTER_HEADER]: key })).status, 401);
  }
  t.deepEqual(await a.operations(), []);
  t.is((await a.installed())['cl-beta'], undefined);

  // A compute node configured with another key: the main node's deliveries are refused there (and retried).
  const other = c.node('node-x', { PROCENV_CLUSTER_KEY: `other-${c.key.slice(3)}` });
  await other.addProcessor(c.pip);
  await other.start();
  await c.register([{ code: 'node-x', url: other.url }]);
  const id = await c.update('addPackage/cl-beta/');
  const d = await waitUntil('node-a applied while node-x refuses the key', async () => {
    const nodes = byNode((await c.operation(id)).nodes);
    return nodes['node-a']?.state === 'applied' && (nodes['node-x']?.attempts ?? 0) >= 2 ? nodes : undefined;
  }, 60_000);
  t.like(d['node-x'], { state: 'pending' });
  t.regex(d['node-x']!.lastError ?? '', /401/);
  t.deepEqual(await other.operations(), []);
  t.is((await other.installed())['cl-beta'], undefined);
  t.regex((await other.syncState()).lastError ?? '', /401/, 'its own reads of the main node are refused too');
  t.deepEqual(c.nodesLoggingKey(), [], 'no key, right or wrong, reaches a log');
  const lines = [c.main, ...c.nodes.values()].flatMap((n) => n.logs);
  t.deepEqual(wrongKeys.filter((k) => lines.some((l) => l.includes(k))), []);
});

// The fan-out is durable: deliveries stored by a main node that crashes are resumed by the next one.
test.serial('a main node killed with deliveries still retrying resumes them after a restart, and they end applied', async (t) => {
  t.timeout(150_000);
  const c = await startCluster(t);
  const [a, b] = [c.nodes.get('node-a')!, c.nodes.get('node-b')!];
  await b.stop();
  const id = await c.update('addPackage/cl-alpha/');
  await waitUntil('main DONE, node-a applied, node-b retried', async () => {
    const op = await c.operation(id);
    const d = Object.fromEntries((op.nodes ?? []).map((n) => [n.nodeCode, n]));
    return op.status === 'DONE' && d['node-a']?.state === 'applied' && d['node-b']?.state === 'pending' && d['node-b'].attempts >= 2;
  }, 60_000);

  // A crash: no graceful stop. node-b comes back while the main node is down, so only the main can end its delivery.
  const port = c.main.port;
  await c.main.kill();
  await b.start();
  t.is((await b.syncState()).applied, 0, "node-b cannot catch up while the main node is down");
  await c.main.start();
  t.is(c.main.port, port, 'the main node is back on the address its compute nodes know');
  const op = await c.settled(id, 60_000);
  const d = Object.fromEntries(op.nodes.map((n) => [n.nodeCode, n]));
  t.like(d['node-b'], { state: 'applied' });
  t.truthy(d['node-b']?.remoteOperationId);
  t.like(d['node-a'], { state: 'applied', attempts: 1 });
  t.is((await b.installed())['cl-alpha'], '2.0');
  // The delivered operation on node-b is the one the main node's resumed delivery created.
  const remote = await b.internal(`operations/${d['node-b']!.remoteOperationId}`);
  t.like(remote.body, { status: 'DONE', origin: { operationId: id } });
  // node-a was not sent the change again by the restarted main node.
  t.deepEqual((await a.operations()).map((o) => o.commands), [['addPackage/cl-alpha/']]);
  await waitUntil('both in step', async () => (await c.processorNodes()).nodes.every((n) => n.state === 'in-step'), 30_000);
  t.deepEqual(c.nodesLoggingKey(), []);
});
