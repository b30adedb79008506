import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { describeFailure, PeerClient } from '../../src/nodes/peer-client.ts';

// The node-to-node client on real sockets: what a compute node or the main node answers reaches the caller as it
// is (any status), failures are described without the key or URL credentials, and a slow node is cut off.

const KEY = 'cluster-key-0123456789abcdef';

async function node(t: ExecutionContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/rest/`;
}

function client(t: ExecutionContext, timeoutMs = 2000): PeerClient {
  const peer = new PeerClient({ nodeCode: 'main', clusterKey: KEY, timeoutMs });
  t.teardown(() => peer.close());
  return peer;
}

test('a delivery carries the cluster headers and its commands in order, under the base address path', async (t) => {
  let seen: IncomingMessage | undefined;
  const base = await node(t, (req, res) => {
    seen = req;
    res.end('{"processObjId":"remote-1"}');
  });
  const res = await client(t).environmentUpdate(base, { processorId: 'p1', workspace: '-', commands: ['addPackage/a/', 'removePackage/b/'], userId: 'owner', originOperationId: 'op-1' });
  t.deepEqual(res, { statusCode: 200, body: '{"processObjId":"remote-1"}' });
  const url = new URL(seen!.url!, 'http://x');
  t.is(url.pathname, '/rest/packageManager/environmentupdate');
  t.deepEqual(url.searchParams.getAll('updateCommand'), ['addPackage/a/', 'removePackage/b/']);
  t.like(seen!.headers, { 'x-procenv-cluster-key': KEY, 'x-procenv-via': 'main', 'x-procenv-user': 'owner', 'x-procenv-origin-operation': 'op-1' });
});

test('any status is an answer: 500 and a redirect come back as they are, the redirect is not followed', async (t) => {
  let requests = 0;
  const base = await node(t, (req, res) => {
    requests++;
    if (req.url!.includes('moved')) {
      res.writeHead(302, { location: '/rest/elsewhere' }).end();
    } else {
      res.writeHead(500).end('{"error":{"code":"INTERNAL"}}');
    }
  });
  const peer = client(t);
  t.like(await peer.getJson(base, 'cluster/ping'), { statusCode: 500, body: '{"error":{"code":"INTERNAL"}}' });
  t.like(await peer.getJson(base, 'moved'), { statusCode: 302, body: '' });
  t.is(requests, 2);
});

test('a JSON post sends its body with its length', async (t) => {
  let body = '';
  const base = await node(t, (req, res) => {
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => res.writeHead(204).end());
  });
  t.is((await client(t).postJson(base, 'cluster/report', { operationId: 'op-1', status: 'DONE' })).statusCode, 204);
  t.deepEqual(JSON.parse(body), { operationId: 'op-1', status: 'DONE' });
});

test('a node that does not answer in time is cut off and described as "timed out"', async (t) => {
  const base = await node(t, () => { /* never answers */ });
  const started = performance.now();
  const err = await t.throwsAsync(client(t, 300).getJson(base, 'cluster/ping'));
  t.is(describeFailure(err), 'timed out');
  t.true(performance.now() - started < 2000);
});

test('an answer cut off halfway is a failure, not a short body', async (t) => {
  const base = await node(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('{"partial":');
    setTimeout(() => res.socket!.destroy(), 50);
  });
  const err = await t.throwsAsync(client(t).getJson(base, 'cluster/ping'));
  t.is(describeFailure(err), 'ECONNRESET');
});

test('a refused connection is described by its code, without the credentials of the address', async (t) => {
  // Port 1 on loopback: nothing listens there.
  const err = await t.throwsAsync(client(t).getJson('http://proxyuser:s3cret@127.0.0.1:1/', 'cluster/ping'));
  const text = `${describeFailure(err)} ${(err as Error).message}`;
  t.regex(describeFailure(err), /ECONNREFUSED/);
  t.false(text.includes('s3cret') || text.includes(KEY), text);
});
