import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import got from 'got';
import { SAMPLES_DIR } from '../../src/cli.ts';
import { procenvCli } from '../helpers/cluster.ts';
import { hostileService, pollUntil, problems, SAMPLES } from './support.ts';
import { ensureCompiled, PROCENV_BIN } from '../helpers/compiled.ts';

// The command line runs compiled, as users run it: dist/ is rebuilt first when a source is newer.
test.before(ensureCompiled);

// packagesInfo.json and envActionsList.txt are tenant input: one too big must not be parsed at all, and the history
// must not be read and split again on every request.

test('a packagesInfo.json over catalog.maxPackagesInfoBytes is refused with a clear error and not parsed', async (t) => {
  const svc = await hostileService(t, { 'catalog.maxPackagesInfoBytes': 65_536 }, { worker: false });
  const owner = await svc.login('demo');
  const admin = await svc.login('root-admin', { admin: true });
  const uptodate = Array.from({ length: 3000 }, (_, i) => ({ managerName: 'pip', packageName: `big-pkg-${i}`, currentVersion: '1.0' }));
  const text = JSON.stringify({ uptodate });
  t.true(text.length > 65_536);
  const file = join(svc.config.processorsDir, SAMPLES.pip.name, 'packagesInfo.json');
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
  const { value } = await pollUntil(() => svc.get('packageManager/listPackages', owner, { name: SAMPLES.pip.name }), (r) => r.status !== 200 || JSON.stringify(r.body).includes('big-pkg'), { timeoutMs: 10_000 });
  t.is(value.status, 500);
  t.is(value.body.error.code, 'SNAPSHOT_UNREADABLE');
  t.regex(value.body.error.message, /over the limit of 65536 \(catalog\.maxPackagesInfoBytes\)/);
  t.true((await problems(svc, admin)).some((p) => p.file === 'packagesInfo.json' && /catalog\.maxPackagesInfoBytes/.test(p.reason)));
});

test('an envActionsList.txt over catalog.maxEnvActionsBytes is refused with a clear error', async (t) => {
  const svc = await hostileService(t, { 'catalog.maxEnvActionsBytes': 4096 }, { worker: false });
  const owner = await svc.login('demo');
  const lines = Array.from({ length: 500 }, (_, i) => `addPackage/pkg-${i}/`).join('\n');
  writeFileSync(join(svc.config.processorsDir, SAMPLES.pip.name, 'envActionsList.txt'), lines);
  const res = await svc.get('packageManager/environmentActions', owner, { name: SAMPLES.pip.name });
  t.is(res.status, 500);
  t.is(res.body.error.code, 'HISTORY_UNREADABLE');
  t.regex(res.body.error.message, /catalog\.maxEnvActionsBytes/);
});

/** Bytes the process has read through read(2) and the like, page cache included (/proc/<pid>/io `rchar`). */
function bytesRead(pid: number): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
}

test('a large envActionsList.txt is read once, not on every request, and read again when it changes', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'procenv-big-history-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = join(root, 'data');
  const processorsDir = join(root, 'processors');
  cpSync(SAMPLES_DIR, processorsDir, { recursive: true });
  const history = join(processorsDir, SAMPLES.pip.name, 'envActionsList.txt');
  const lines = Array.from({ length: 150_000 }, (_, i) => `addPackage/history-pkg-${i}/1.0.${i}/`);
  writeFileSync(history, `${lines.join('\n')}\n`);
  const size = readFileSync(history).length;
  await procenvCli(dataDir, ['user', 'add', 'demo']);
  const token = await procenvCli(dataDir, ['session', 'create', 'demo']);

  // A real procenv process, so that what it reads can be measured from the outside.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROCENV_') && k !== 'MONGODB_URL'));
  const env = { ...inherited, PROCENV_DATA_DIR: dataDir, PROCENV_PROCESSORS_DIR: processorsDir, PROCENV_HOST: '127.0.0.1', PROCENV_PORT: '0', PROCENV_LOG_LEVEL: 'info', PROCENV_CATALOG_MAX_ENV_ACTIONS_BYTES: String(64 * 1024 * 1024), PROCENV_CLI_ENTRY: '1' };
  const child = spawn(process.execPath, [PROCENV_BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) resolve(entry.url);
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`procenv exited (${code}) before listening`)));
  });
  const get = () => got.get(`${url}/packageManager/environmentActions`, { searchParams: { name: SAMPLES.pip.name }, headers: { 'x-session-token': token }, throwHttpErrors: false, timeout: { request: 60_000 } });

  const first = await get();
  t.is(first.statusCode, 200);
  t.is((JSON.parse(first.body) as string[]).length, lines.length);
  const before = bytesRead(child.pid!);
  const answers = await Promise.all(Array.from({ length: 10 }, () => get()));
  const read = bytesRead(child.pid!) - before;
  t.true(answers.every((a) => a.statusCode === 200 && a.body === first.body));
  t.log(`10 requests for a ${size}-byte history read ${read} bytes`);
  t.true(read < size, `10 requests read ${read} bytes; the file is ${size}`);

  // procenv's own writes are atomic renames; a history written that way is served at once.
  writeFileSync(`${history}.new`, `${lines.join('\n')}\naddPackage/one-more/\n`);
  renameSync(`${history}.new`, history);
  const after = await get();
  t.is((JSON.parse(after.body) as string[]).at(-1), 'addPackage/one-more/');
});
