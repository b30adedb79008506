import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import got from 'got';
import { ensureCompiled } from '../helpers/compiled.ts';
import { SAMPLES_DIR } from '../helpers/service.ts';

// The installed `procenv` command runs the compiled JavaScript of dist/ (built by `npm install` through `prepare`),
// not the TypeScript sources: no compile step at every start, and no tsx in the service's process.

const REPO = new URL('../../', import.meta.url).pathname;
const COMPILED = join(REPO, 'dist', 'cli.js');

// dist/ is built by `npm install`/`npm ci` (prepare); a checkout installed with --ignore-scripts has none.
const built = existsSync(COMPILED);
const compiledTest = built ? test : test.skip;

compiledTest(`bin/procenv.js serves from dist/: it listens, answers, settles its heap and stops on SIGTERM${built ? '' : ' (skipped: dist/ is not built; npm run build)'}`, async (t) => {
  // What the sources are now (the panel's route included), not an older build.
  await ensureCompiled();
  const root = mkdtempSync(join(tmpdir(), 'procenv-compiled-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  cpSync(SAMPLES_DIR, join(root, 'processors'), { recursive: true });
  // Run as the installed command is (its /bin/sh launcher lines exec `node` from PATH: the node this test runs on).
  const child = spawn(join(REPO, 'bin', 'procenv.js'), ['serve'], {
    cwd: root,
    env: {
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: process.env.HOME, PIP_CONFIG_FILE: '/dev/null', PROCENV_PORT: '0', PROCENV_LOG_LEVEL: 'info',
      PROCENV_DATA_DIR: join(root, 'data'), PROCENV_PROCESSORS_DIR: join(root, 'processors'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const settled = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "heap settled" line within 60 s; stderr: ${stderr}`)), 60_000);
    lines.on('line', (line) => {
      if (!line.includes('heap settled after start-up')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 60 s; stderr: ${stderr}`)), 60_000);
    lines.on('line', (line) => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(line);
      if (m && line.includes('listening')) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  // The launcher's node flag (the young generation's cap) is on the service's command line.
  t.true(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=8'));
  const res = await got(`${url}/packageManager/listPackages?name=sample_pip`, { throwHttpErrors: false, retry: { limit: 0 } });
  t.is(res.statusCode, 401, 'the compiled service answers, and asks for a session');
  // The panel's files live beside dist/ (ui/), and the compiled service finds them there too.
  const panel = await got(`${url}/ui/`, { throwHttpErrors: false, retry: { limit: 0 } });
  t.is(panel.statusCode, 200);
  t.regex(panel.headers['content-type'] ?? '', /^text\/html/);
  t.is((await got(`${url}/ui/app.js`, { throwHttpErrors: false, retry: { limit: 0 } })).statusCode, 200);
  // Once start-up is over, one collection gives back the heap it grew, and says so.
  const heap = await settled;
  t.is(typeof heap.ms, 'number');
  t.true((heap.heapMb as number) <= (heap.heapMbBefore as number));
  child.kill('SIGTERM');
  t.is(await exited, 0, stderr);
});
