import { createServer } from 'node:http';

export type FakeBehaviour = 'error500' | 'hang' | { failFirst: number };

/**
 * A FAKE compute node (no procenv behind it) on 127.0.0.1:0, for faults a real node will not produce on demand:
 * `error500` answers every call 500; `hang` accepts connections and never answers; `{ failFirst: n }` answers 500
 * n times, then accepts deliveries as a compute node does (`{ processObjId }`) and reports those operations DONE.
 */
export interface FakeComputeNode {
  url: string;
  /** Requests to packageManager/environmentupdate so far. */
  readonly deliveries: number;
  /** Every request seen, in order: path, query and headers as sent. */
  readonly requests: FakeRequest[];
  close(): Promise<void>;
}

export interface FakeRequest {
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
}

export async function startFakeComputeNode(behaviour: FakeBehaviour): Promise<FakeComputeNode> {
  const requests: FakeRequest[] = [];
  const state = { deliveries: 0 };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    requests.push({ path, query: url.searchParams, headers: req.headers });
    const isDelivery = path === '/packageManager/environmentupdate';
    if (isDelivery) state.deliveries++;
    if (behaviour === 'hang') return;
    const failing = behaviour === 'error500' || (isDelivery && state.deliveries <= behaviour.failFirst);
    if (failing) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'FAKE_FAILURE', message: 'fake node failure' } }));
      return;
    }
    const op = /^\/operations\/([^/]+)$/.exec(path);
    if (isDelivery) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ processObjId: `fake-op-${state.deliveries}` }));
    else if (path === '/cluster/ping') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nodeCode: 'fake' }));
    else if (op) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ processObjId: op[1], status: 'DONE' }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get deliveries() {
      return state.deliveries;
    },
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
