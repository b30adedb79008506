import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import got from 'got';
import { createSession } from '../../src/cli.ts';
import { createLogger } from '../../src/logger.ts';
import { startService, type Service } from '../../src/main.ts';
import { startFakeComputeNode } from '../cluster/fake-compute-node.ts';
import { freePort, waitUntil } from '../helpers/cluster.ts';
import { testConfig } from '../helpers/service.ts';
import { ensureCompiled, PROCENV_BIN } from '../helpers/compiled.ts';

// The command line runs compiled, as users run it: dist/ is rebuilt first when a source is newer.
test.before(ensureCompiled);

// The node list and node codes against a hostile reader or a careless operator: addresses that carry proxy
// credentials, plain users asking for the cluster's layout, pages polling the views, and bad codes at the CLI.

const REPO = new URL('../../', import.meta.url).pathname;
const SECRET = 's3cret-pass-4f1a';
const USERINFO = `proxyuser:${SECRET}@`;
const SAMPLE_PIP = { name: 'sample_pip', id: '5c1f4a8e-2b7d-4f3a-9e61-0d2c8b7a4f10' };

interface MainNode {
  service: Service;
  http: typeof got;
  /** Every log line the service wrote. */
  logs: string[];
  admin: string;
  plain: string;
}

/** A main node in this process (queue worker stopped: nothing runs pip), its log captured, an admin and a plain user. */
async function startMain(t: ExecutionContext): Promise<MainNode> {
  const { config, root } = testConfig({ clusterKey: 'ck-node-list-0123456789abcdef', 'cluster.statusCacheSeconds': 60, 'cluster.retryBaseMs': 50, 'cluster.retryMaxMs': 200 });
  const logs: string[] = [];
  const service = await startService(config, { log: createLogger('debug', { write: (line: string) => void logs.push(line) }) });
  await service.worker.stop();
  t.teardown(async () => {
    await service.stop();
    rmSync(root, { recursive: true, force: true });
  });
  await service.store.saveUser({ userId: 'root', role: 'ADMIN' });
  await service.store.saveUser({ userId: 'bob', role: 'USER' });
  const http = got.extend({ prefixUrl: service.url, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 30_000 }, responseType: 'json' });
  return { service, http, logs, admin: await createSession(service.store, 'root'), plain: await createSession(service.store, 'bob') };
}

test('GET /nodes answers 403 to a plain user, and an admin sees no credentials of a node address', async (t) => {
  const main = await startMain(t);
  const fake = await startFakeComputeNode({ failFirst: 0 });
  t.teardown(() => fake.close());
  const closed = await freePort();
  const withCredentials = fake.url.replace('http://', `http://${USERINFO}`);
  await main.service.store.saveNode({ nodeCode: 'node-up', nodeBaseAddress: `${withCredentials}/`, active: true });
  await main.service.store.saveNode({ nodeCode: 'node-down', nodeBaseAddress: `http://${USERINFO}127.0.0.1:${closed}/`, active: true });

  const plain = await main.http.get('nodes', { headers: { 'x-session-token': main.plain } });
  t.is(plain.statusCode, 403);
  t.is((plain.body as unknown as { error: { code: string } }).error.code, 'ADMIN_ONLY');
  t.is(fake.requests.length, 0, 'a refused caller makes no node be asked');

  const res = await main.http.get('nodes', { headers: { 'x-session-token': main.admin } });
  t.is(res.statusCode, 200);
  const text = JSON.stringify(res.body);
  t.false(text.includes(SECRET), text);
  t.false(text.includes('proxyuser'), text);
  const byCode = Object.fromEntries((res.body as unknown as { nodeCode: string; nodeBaseAddress: string; reachable: boolean; error?: string }[]).map((n) => [n.nodeCode, n]));
  t.is(byCode['node-up']?.nodeBaseAddress, `${fake.url}/`);
  t.true(byCode['node-up']?.reachable);
  t.deepEqual([byCode['node-down']?.reachable, byCode['node-down']?.nodeBaseAddress], [false, `http://127.0.0.1:${closed}/`]);
  // The credentials were used (as got sends URL userinfo: basic auth), only never shown.
  t.is(fake.requests[0]?.headers.authorization, `Basic ${Buffer.from(`proxyuser:${SECRET}`).toString('base64')}`);
  t.false(main.logs.some((l) => l.includes(SECRET)));
});

test('GET /nodes and GET /processors/{name}/nodes reuse what a node answered instead of asking it per request', async (t) => {
  const main = await startMain(t);
  const fake = await startFakeComputeNode({ failFirst: 0 });
  t.teardown(() => fake.close());
  await main.service.store.saveNode({ nodeCode: 'node-a', nodeBaseAddress: fake.url, active: true });
  const asAdmin = { headers: { 'x-session-token': main.admin } };
  // Twenty polls, ten of them at once: one ping.
  await Promise.all(Array.from({ length: 10 }, () => main.http.get('nodes', asAdmin)));
  for (let i = 0; i < 10; i++) t.is((await main.http.get('nodes', asAdmin)).statusCode, 200);
  t.is(fake.requests.filter((r) => r.path === '/cluster/ping').length, 1);

  // The per-processor view: read permission (a public processor for a plain user), one request per node too.
  const asPlain = { headers: { 'x-session-token': main.plain } };
  const views = await Promise.all(Array.from({ length: 10 }, () => main.http.get(`processors/${SAMPLE_PIP.name}/nodes`, asPlain)));
  for (let i = 0; i < 10; i++) views.push(await main.http.get(`processors/${SAMPLE_PIP.name}/nodes`, asPlain));
  t.deepEqual([...new Set(views.map((v) => v.statusCode))], [200]);
  t.is(fake.requests.filter((r) => r.path === `/cluster/processors/${SAMPLE_PIP.name}/sync`).length, 1);
  // A private processor of someone else stays closed, and asks no node.
  t.is((await main.http.get('processors/sample_oneshot/nodes', asPlain)).statusCode, 403);
  t.is(fake.requests.filter((r) => r.path.startsWith('/cluster/processors/sample_oneshot')).length, 0);
});

test('fan-out errors that quote a node address with credentials reach neither the operation nor the log with them', async (t) => {
  const main = await startMain(t);
  // A FAKE proxy in front of a compute node, failing and quoting its upstream address with its credentials (as
  // some gateways' error pages do).
  const proxy = createServer((req, res) => {
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'BAD_GATEWAY', message: `upstream http://${USERINFO}10.0.0.5:8080${req.url} refused the connection` } }));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const { port } = proxy.address() as { port: number };
  await main.service.store.saveNode({ nodeCode: 'node-p', nodeBaseAddress: `http://${USERINFO}127.0.0.1:${port}/`, active: true });

  const update = await main.http.get('packageManager/environmentupdate', {
    headers: { 'x-session-token': main.admin }, searchParams: { processorId: SAMPLE_PIP.id, workspace: '-', updateCommand: 'removePackage/requests/' },
  });
  t.is(update.statusCode, 200, JSON.stringify(update.body));
  const id = (update.body as unknown as { processObjId: string }).processObjId;
  const delivery = await waitUntil('the delivery to node-p retried twice', async () => {
    const op = await main.http.get(`operations/${id}`, { headers: { 'x-session-token': main.admin } });
    const d = (op.body as unknown as { nodes?: { nodeCode: string; attempts: number; lastError?: string }[] }).nodes?.find((n) => n.nodeCode === 'node-p');
    return d && d.attempts >= 2 ? d : undefined;
  });
  t.regex(delivery.lastError ?? '', /502 BAD_GATEWAY: upstream http:\/\/10\.0\.0\.5:8080/);
  t.false(JSON.stringify(delivery).includes(SECRET));
  t.true(main.logs.some((l) => l.includes('delivery will be retried') && l.includes('10.0.0.5')), 'the retries are logged');
  t.false(main.logs.some((l) => l.includes(SECRET)), main.logs.filter((l) => l.includes(SECRET)).join('\n'));
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `procenv <args>` as its own process on a temp data folder, with nothing inherited but PATH and HOME. */
function cli(dataDir: string, ...args: string[]): Promise<Run> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PROCENV_DATA_DIR: dataDir, PROCENV_LOG_LEVEL: 'silent', PROCENV_CLI_ENTRY: '1' };
  return new Promise((resolve) => {
    execFile(process.execPath, [PROCENV_BIN, ...args], { cwd: REPO, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

test('node add refuses bad node codes and non-http addresses with exit status 2, and never prints credentials', async (t) => {
  t.timeout(180_000);
  const { root } = testConfig();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = join(root, 'data');
  const bad: [string, RegExp][] = [
    ['', /not a valid node code/],
    ['wasdi', /main node's own code/],
    ['a,b', /not a valid node code/],
    ['../x', /not a valid node code/],
    ['-rf', /not a valid node code/],
    ['n'.repeat(3000), /not a valid node code/],
  ];
  const runs = await Promise.all(bad.map(([code]) => cli(dataDir, 'node', 'add', '--', code, 'http://127.0.0.1:9/')));
  for (const [k, [code, message]] of bad.entries()) {
    const run = runs[k]!;
    t.is(run.code, 2, `node add "${code.slice(0, 20)}": ${run.stderr.slice(0, 300)}`);
    t.regex(run.stderr, message);
    t.true(run.stderr.length < 2000, 'the 3,000-character code is not echoed whole');
  }
  for (const url of ['ftp://127.0.0.1/', 'file:///etc/passwd', 'not a url', 'http://127.0.0.1:9/?x=1']) {
    const run = await cli(dataDir, 'node', 'add', 'node-x', url);
    t.is(run.code, 2, `${url}: ${run.stderr.slice(0, 200)}`);
  }
  const listed = await cli(dataDir, 'node', 'list');
  t.deepEqual([listed.code, listed.stdout], [0, ''], 'nothing was registered');

  // Credentials are allowed (a proxy may need them) and never printed.
  const added = await cli(dataDir, 'node', 'add', 'node_b-2', `http://${USERINFO}127.0.0.1:9/rest/`);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /node node_b-2 saved \(http:\/\/127\.0\.0\.1:9\/rest\/, with credentials\)/);
  const after = await cli(dataDir, 'node', 'list');
  t.is(after.stdout, 'node_b-2\thttp://127.0.0.1:9/rest/\tactive\n');
  t.false(added.stdout.includes(SECRET) || after.stdout.includes(SECRET));
});

test('a node code arriving in a delivery report or in x-procenv-via is checked like at the CLI', async (t) => {
  const main = await startMain(t);
  const key = main.service.config.clusterKey;
  const report = (code: string) => main.http.post(`cluster/deliveries/op-1/${encodeURIComponent(code)}`, {
    headers: { 'x-procenv-cluster-key': key }, json: { status: 'DONE' },
  });
  for (const code of ['a,b', '../x', 'n'.repeat(3000)]) {
    const res = await report(code);
    t.is(res.statusCode, 400, code.slice(0, 20));
    t.is((res.body as unknown as { error: { code: string } }).error.code, 'INVALID_NODE_CODE');
  }
  t.is((await report('node-a')).statusCode, 200, 'a valid code is recorded as before');
  for (const via of ['node-a,../x', 'a b', Array.from({ length: 20 }, (_, i) => `n${i}`).join(',')]) {
    const res = await main.http.get('cluster/ping', { headers: { 'x-procenv-cluster-key': key, 'x-procenv-via': via } });
    t.is(res.statusCode, 400, via);
  }
  t.is((await main.http.get('cluster/ping', { headers: { 'x-procenv-cluster-key': key, 'x-procenv-via': 'node-a' } })).statusCode, 200);
});
