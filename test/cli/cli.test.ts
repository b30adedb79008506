import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import test, { type ExecutionContext } from 'ava';
import got from 'got';
import { SAMPLES_DIR, startTestService, type TestService } from '../helpers/service.ts';
import { ensureCompiled, PROCENV_BIN } from '../helpers/compiled.ts';

// The command line runs compiled, as users run it: dist/ is rebuilt first when a source is newer.
test.before(ensureCompiled);

// The procenv command line as a real child process (`bin/procenv.js`, compiled, as installed) on temp data and
// processors folders, and a service started on the same folders afterwards.

const REPO = new URL('../../', import.meta.url).pathname;
const ONESHOT = { name: 'sample_oneshot', id: 'e27b90c4-1d5f-4a63-8c0e-3b9f7a2d6c51' };
const PIP = { name: 'sample_pip', id: '5c1f4a8e-2b7d-4f3a-9e61-0d2c8b7a4f10' };

interface Dirs {
  root: string;
  dataDir: string;
  processorsDir: string;
  env: NodeJS.ProcessEnv;
}

/** Temp folders with the sample processors, and the child's environment: nothing inherited but PATH and HOME. */
function dirsFor(t: ExecutionContext): Dirs {
  const root = mkdtempSync(join(tmpdir(), 'procenv-cli-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = join(root, 'data');
  const processorsDir = join(root, 'processors');
  cpSync(SAMPLES_DIR, processorsDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME,
    PROCENV_DATA_DIR: dataDir, PROCENV_PROCESSORS_DIR: processorsDir, PROCENV_LOG_LEVEL: 'info',
    // A service child may start pip; it must not read the machine's pip configuration.
    PIP_CONFIG_FILE: '/dev/null',
  };
  return { root, dataDir, processorsDir, env };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(dirs: Dirs, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PROCENV_BIN, ...args], { cwd: REPO, env: dirs.env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

async function ok(t: ExecutionContext, dirs: Dirs, ...args: string[]): Promise<string> {
  const run = await cli(dirs, ...args);
  t.is(run.code, 0, `procenv ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

/** A service in this process on the CLI's folders (queue worker stopped: the operations must stay as recorded). */
async function serviceOn(t: ExecutionContext, dirs: Dirs): Promise<TestService> {
  const svc = await startTestService({ dataDir: dirs.dataDir, processorsDir: dirs.processorsDir }, { worker: false });
  t.teardown(() => svc.close());
  return svc;
}

async function get(svc: TestService, path: string, token: string) {
  return svc.http.get(path, { headers: { 'x-session-token': token } });
}

test('session create prints only the token, and a service on the same data folder accepts it', async (t) => {
  const dirs = dirsFor(t);
  t.regex(await ok(t, dirs, 'user', 'add', 'alice'), /alice/);
  const run = await cli(dirs, 'session', 'create', 'alice');
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /^[A-Za-z0-9_-]{43}\n$/, 'one line: the token');
  const token = run.stdout.trim();
  const svc = await serviceOn(t, dirs);
  const res = await get(svc, `packageManager/listPackages?name=${PIP.name}`, token);
  t.is(res.statusCode, 200);
  t.is((JSON.parse(res.body) as unknown[]).length, 7);
  t.is((await get(svc, `packageManager/listPackages?name=${PIP.name}`, `${token}x`)).statusCode, 401);
  // Two sessions are two different tokens.
  t.not((await ok(t, dirs, 'session', 'create', 'alice')).trim(), token);
});

test('user add --admin makes a user who may change any processor', async (t) => {
  const dirs = dirsFor(t);
  t.regex(await ok(t, dirs, 'user', 'add', 'root', '--admin'), /admin/);
  const token = (await ok(t, dirs, 'session', 'create', 'root')).trim();
  const svc = await serviceOn(t, dirs);
  const res = await get(svc, `packageManager/environmentupdate?processorId=${ONESHOT.id}&workspace=-&updateCommand=addPackage/numpy/`, token);
  t.is(res.statusCode, 200);
});

test('processor share --permission write lets that user run environmentupdate; read does not', async (t) => {
  const dirs = dirsFor(t);
  await ok(t, dirs, 'user', 'add', 'bob');
  const token = (await ok(t, dirs, 'session', 'create', 'bob')).trim();
  t.regex(await ok(t, dirs, 'processor', 'share', ONESHOT.name, 'bob', '--permission', 'read'), /shared with bob \(read\)/);
  const svc = await serviceOn(t, dirs);
  const update = () => get(svc, `packageManager/environmentupdate?processorId=${ONESHOT.id}&workspace=-&updateCommand=addPackage/numpy/1.26.4/`, token);
  t.is((await get(svc, `packageManager/listPackages?name=${ONESHOT.name}`, token)).statusCode, 200, 'read sharing: the private processor is readable');
  t.is((await update()).statusCode, 403, 'read sharing: not writable');

  // Shared again with write while the service runs: the next request sees it.
  t.regex(await ok(t, dirs, 'processor', 'share', ONESHOT.name, 'bob', '--permission', 'write'), /\(write\)/);
  const res = await update();
  t.is(res.statusCode, 200, res.body);
  const op = await svc.store.findOperation((JSON.parse(res.body) as { processObjId: string }).processObjId);
  t.like(op!, { processorId: ONESHOT.id, userId: 'bob', status: 'CREATED' });
  t.deepEqual(op!.commands, ['addPackage/numpy/1.26.4/']);
});

test('node add registers compute nodes and node list prints them', async (t) => {
  const dirs = dirsFor(t);
  t.regex(await ok(t, dirs, 'node', 'add', 'node-eu-2', 'http://127.0.0.1:9001/'), /node-eu-2 saved/);
  t.regex(await ok(t, dirs, 'node', 'add', 'node-us-1', 'http://127.0.0.1:9002', '--inactive'), /inactive/);
  const lines = (await ok(t, dirs, 'node', 'list')).trim().split('\n');
  t.deepEqual(lines, ['node-eu-2\thttp://127.0.0.1:9001/\tactive', 'node-us-1\thttp://127.0.0.1:9002/\tinactive']);
  // Saving a code again replaces the node.
  await ok(t, dirs, 'node', 'add', 'node-us-1', 'http://127.0.0.1:9003/');
  t.deepEqual((await ok(t, dirs, 'node', 'list')).trim().split('\n')[1], 'node-us-1\thttp://127.0.0.1:9003/\tactive');
});

const BAD_USAGE: { args: string[]; message: RegExp }[] = [
  { args: ['frobnicate'], message: /unknown command "frobnicate"/ },
  { args: ['user', 'add'], message: /takes 1 argument/ },
  { args: ['user', 'add', 'a', 'b'], message: /takes 1 argument/ },
  { args: ['session', 'create', 'nobody'], message: /no user "nobody"/ },
  { args: ['processor', 'share', 'sample_pip', 'bob'], message: /--permission must be read or write/ },
  { args: ['processor', 'share', 'sample_pip', 'bob', '--permission', 'admin'], message: /--permission must be read or write/ },
  { args: ['processor', 'share', 'no_such_app', 'bob', '--permission', 'read'], message: /no processor "no_such_app"/ },
  { args: ['node', 'add', 'n1', 'not a url'], message: /is not a URL/ },
  { args: ['node', 'add', 'n1', 'ftp://127.0.0.1/'], message: /http or https/ },
  { args: ['node', 'list', 'extra'], message: /takes 0 arguments/ },
  { args: ['serve', 'now'], message: /serve takes no arguments/ },
  { args: ['user', 'add', 'x', '--bogus'], message: /bogus/ },
];

for (const { args, message } of BAD_USAGE) {
  test(`procenv ${args.join(' ')} exits non-zero with a message`, async (t) => {
    const dirs = dirsFor(t);
    const run = await cli(dirs, ...args);
    t.not(run.code, 0);
    t.not(run.code, null);
    t.regex(run.stderr, message);
    t.regex(run.stderr, /^procenv: /);
    t.is(run.stdout, '', 'nothing on stdout');
  });
}

test('procenv without a command prints the usage and exits 0', async (t) => {
  const dirs = dirsFor(t);
  t.regex(await ok(t, dirs), /usage: procenv/);
  t.regex(await ok(t, dirs, '--help'), /session create <userId>/);
});

test('serve --demo on port 0 serves a copy of the samples, logs the bound URL, warns of misspelt PROCENV_ variables, and exits 0 on SIGTERM', async (t) => {
  const dirs = dirsFor(t);
  await ok(t, dirs, 'user', 'add', 'demo');
  const token = (await ok(t, dirs, 'session', 'create', 'demo')).trim();
  const demoProcessors = join(dirs.root, 'demo-processors');
  const child = spawn(process.execPath, [PROCENV_BIN, 'serve', '--demo'], {
    cwd: REPO, env: { ...dirs.env, PROCENV_PORT: '0', PROCENV_PROCESSORS_DIR: demoProcessors, PROCENV_CLUSTR_KEY: 'misspelt-key-0123456789' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // Whatever happens below, the child does not outlive the test.
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const logs: Record<string, unknown>[] = [];
  const listening = new Promise<string | undefined>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'listening') resolve(entry.url as string);
    });
    void exited.then(() => resolve(undefined));
  });
  const url = await listening;
  t.truthy(url, `no "listening" line; stderr: ${stderr}`);
  t.regex(url!, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(new URL(url!).port, '0');

  const res = await got(`${url}/packageManager/listPackages?name=${PIP.name}`, {
    headers: { 'x-session-token': token }, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 10_000 },
  });
  t.is(res.statusCode, 200);
  t.false(JSON.stringify(logs).includes(token), 'the token never reaches a log');

  child.kill('SIGTERM');
  const { code, signal } = await exited;
  t.deepEqual({ code, signal }, { code: 0, signal: null });
  t.true(logs.some((l) => l.msg === 'stopped'), 'the service logged its stop');
  const warning = logs.find((l) => l.variable === 'PROCENV_CLUSTR_KEY');
  t.is(warning?.didYouMean, 'PROCENV_CLUSTER_KEY');
  t.regex(String(warning?.msg), /not a procenv setting and is ignored; did you mean PROCENV_CLUSTER_KEY\?/);
  t.false(JSON.stringify(logs).includes('misspelt-key-0123456789'), 'the value of an unknown variable is not logged');
  // The samples were copied into the empty processors folder: the demo never changes the checkout's samples.
  t.true(existsSync(join(demoProcessors, PIP.name, 'processor.json')));
  t.like(logs.find((l) => l.msg === 'sample processors copied'), { to: demoProcessors });
  t.regex(stderr, /demo session token: \S+/);
  t.regex(stderr, /panel: http:\/\/127\.0\.0\.1:\d+\/ui\/ \(sign in with the token above\)/);
});
