/**
 * bench/scale: one node with many processors. 1,000 processor folders of 300 packages each (WASDI's Java form),
 * embedded store, procenv as users run it: the installed `procenv serve` (bin/procenv.js run as a command, with the
 * service's node flags, running the compiled JavaScript of dist/).
 * Reported next to a reference measured in the same run (bench/servers/scale-reference.mjs: a plain Node process
 * that reads, parses and keeps every processor's answer as a Buffer, the floor):
 *   - start-up: from the process's spawn until every processor answers listPackages 200 with its packages, polled
 *     in order, the polling's own cost (one more pass once all are served) taken off. Target ≤ 3 × the reference;
 *   - RSS after that. Target ≤ 2 × the reference;
 *   - the file descriptors and inotify watches the service holds;
 *   - how long a snapshot changed on disk takes to be served among the 1,000 (target ≤ 1 s).
 * The same at 10,000 processors, reported without a target, shows how start-up and memory grow.
 *
 * - the store's size after `--generations` (20) generations of every processor (see generationsPhase).
 *
 *   node --import tsx bench/scale.ts [--processors 1000] [--packages 300] [--large 10000] [--rounds 3] [--generations 20]
 *                                    [--profile DIR]   (a --cpu-prof of each procenv run; --generations 0 skips that phase)
 *
 * `--large 0` skips the large run. Exit code: 0 PASS, 1 FAIL or an invalid run.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createSession } from '../src/cli.ts';
import { canonicalPackages, generationHash, packagesOf, type GenerationPackage } from '../src/domain/generations.ts';
import { SqliteStore } from '../src/store/embedded/sqlite-store.ts';
import { EMBEDDED_STORE_FILE, openStore } from '../src/store/open.ts';
import { freePort, integerOption, median, stopChild } from './servers/child.ts';

const START_TARGET = 3;
const RSS_TARGET = 2;
const CHANGE_TARGET_MS = 1000;
const USER = 'scale-user';
const REPO = new URL('../', import.meta.url).pathname;

const { values: opts } = parseArgs({
  options: {
    processors: { type: 'string', default: '1000' },
    packages: { type: 'string', default: '300' },
    large: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    generations: { type: 'string', default: '20' },
    profile: { type: 'string' },
  },
});
const GENERATIONS = integerOption(opts, 'generations', 0);
const PROCESSORS = integerOption(opts, 'processors');
const PACKAGES = integerOption(opts, 'packages');
const LARGE = integerOption(opts, 'large', 0);
const ROUNDS = integerOption(opts, 'rounds');

function packagesInfo(count: number, seed: number): string {
  const outdated: unknown[] = [];
  const uptodate: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const n = (i * 7919 + seed) % (count * 3);
    const packageName = `${n % 3 === 0 ? 'Py' : 'py'}-pkg-${String(n).padStart(5, '0')}-${i}`;
    const currentVersion = `${1 + (n % 5)}.${n % 17}.${n % 11}`;
    if (n % 4 === 0) outdated.push({ managerName: 'pip', packageName, currentVersion, currentBuild: null, latestVersion: `${2 + (n % 5)}.0.0`, type: 'wheel', channel: null });
    else uptodate.push({ managerName: 'pip', packageName, currentVersion, currentBuild: null, latestVersion: null, type: null, channel: null });
  }
  return JSON.stringify({ packageManager: { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 }, outdated, uptodate });
}

const nameOf = (i: number) => `proc_${String(i).padStart(5, '0')}`;

function writeProcessors(dir: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const folder = join(dir, nameOf(i));
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'processor.json'), JSON.stringify({ processorId: `scale-${i}`, name: nameOf(i), type: 'python_pip_2', userId: USER, isPublic: 0 }));
    writeFileSync(join(folder, 'packagesInfo.json'), packagesInfo(PACKAGES, i));
  }
}

/** One GET on a kept-alive agentless socket; answers the status and the number of packages (or -1). */
function listPackages(port: number, name: string, token: string): Promise<{ status: number; count: number }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: `/packageManager/listPackages?name=${name}`, headers: { 'x-session-token': token } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let count = -1;
        if (res.statusCode === 200) {
          try {
            count = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length;
          } catch { /* counted as not served */ }
        }
        resolve({ status: res.statusCode ?? 0, count });
      });
      res.on('error', () => resolve({ status: 0, count: -1 }));
    });
    req.on('error', () => resolve({ status: 0, count: -1 }));
    req.end();
  });
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Open file descriptors, and inotify watches over all inotify descriptors, from /proc. */
function handles(pid: number): { fds: number; inotifyWatches: number } {
  let fds = 0;
  let inotifyWatches = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:inotify') {
        inotifyWatches += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
      }
    } catch { /* closed meanwhile */ }
  }
  return { fds, inotifyWatches };
}

interface ProcenvRun {
  startupMs: number;
  /** Spawn → the first processor served (the process started, the folders registered, the server listening). */
  firstMs: number;
  pollMs: number;
  rssMb: number;
  fds: number;
  inotifyWatches: number;
  changeMs: number[];
}

/** Polls every processor in order until each answers its packages; answers when the last one did (ms since `t0`). */
async function pollAll(port: number, count: number, token: string, t0: number, firstServed?: (ms: number) => void): Promise<number> {
  for (let i = 0; i < count; i++) {
    if (i === 1) firstServed?.(performance.now() - t0);
    for (;;) {
      const r = await listPackages(port, nameOf(i), token);
      if (r.status === 200 && r.count === PACKAGES) break;
      if (performance.now() - t0 > 600_000) throw new Error(`${nameOf(i)} not served after 10 minutes (last ${r.status}, ${r.count} packages)`);
      await pause(r.status === 0 ? 10 : 5);
    }
  }
  return performance.now() - t0;
}

async function runProcenv(root: string, count: number, token: string, dataDir: string, processorsDir: string, measureChanges: boolean): Promise<ProcenvRun> {
  const port = await freePort();
  const t0 = performance.now();
  // The installed command itself, run as a command (its launcher lines add its node flags) by the node running this bench.
  const child = spawn(join(REPO, 'bin', 'procenv.js'), ['serve'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: process.env.HOME, PROCENV_PORT: String(port), PROCENV_DATA_DIR: dataDir, PROCENV_PROCESSORS_DIR: processorsDir,
      ...opts.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${opts.profile}` } : {},
    },
  });
  try {
    let firstMs = Number.NaN;
    const servedMs = await pollAll(port, count, token, t0, (ms) => (firstMs = ms));
    const p0 = performance.now();
    await pollAll(port, count, token, p0);
    const pollMs = performance.now() - p0;
    const rss = rssMb(child.pid!);
    const h = handles(child.pid!);
    const changeMs: number[] = [];
    if (measureChanges) {
      // A snapshot rewritten on disk (atomically, as a package manager's tool would) among the others.
      for (let k = 0; k < 5; k++) {
        const name = nameOf(Math.floor((count / 5) * k + count / 10));
        const file = join(processorsDir, name, 'packagesInfo.json');
        writeFileSync(`${file}.tmp`, packagesInfo(PACKAGES + 1 + k, k));
        const changed = performance.now();
        renameSync(`${file}.tmp`, file);
        for (;;) {
          const r = await listPackages(port, name, token);
          if (r.count === PACKAGES + 1 + k) break;
          if (performance.now() - changed > 30_000) throw new Error(`${name}'s new snapshot not served after 30 s`);
          await pause(2);
        }
        changeMs.push(performance.now() - changed);
      }
    }
    return { startupMs: servedMs - pollMs, firstMs, pollMs, rssMb: rss, ...h, changeMs };
  } finally {
    await stopChild(child);
  }
}

async function runReference(processorsDir: string): Promise<{ startupMs: number; rssMb: number }> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [join(REPO, 'bench', 'servers', 'scale-reference.mjs'), processorsDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the reference exited with ${code}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.includes('"ready":true')) resolve();
      });
    });
    return { startupMs: performance.now() - t0, rssMb: rssMb(child.pid!) };
  } finally {
    await stopChild(child);
  }
}

async function scenario(count: number, withTargets: boolean): Promise<boolean> {
  const root = mkdtempSync(join(tmpdir(), 'procenv-scale-'));
  try {
    const processorsDir = join(root, 'processors');
    const t = performance.now();
    writeProcessors(processorsDir, count);
    console.log(`\n== ${count} processors × ${PACKAGES} packages (written in ${((performance.now() - t) / 1000).toFixed(1)} s), ${ROUNDS} rounds, procenv and the reference alternated`);
    const rounds: { procenv: ProcenvRun; reference: { startupMs: number; rssMb: number } }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Each procenv round starts on a fresh store, as a new node would (the registrations are part of start-up).
      const dataDir = join(root, `data-${r}`);
      const store = await openStore({ store: 'embedded', dataDir, mongodbUrl: '', mongodbDatabase: '' });
      await store.saveUser({ userId: USER, role: 'USER' });
      const token = await createSession(store, USER);
      await store.close();
      const first = r % 2 === 0;
      const reference = first ? await runReference(processorsDir) : undefined;
      const procenv = await runProcenv(root, count, token, dataDir, processorsDir, withTargets);
      const ref = reference ?? await runReference(processorsDir);
      rounds.push({ procenv, reference: ref });
      console.log(`round ${r + 1}: procenv served the first after ${procenv.firstMs.toFixed(0)} ms, all after ${procenv.startupMs.toFixed(0)} ms (polling ${procenv.pollMs.toFixed(0)} ms taken off), RSS ${procenv.rssMb.toFixed(0)} MB, ${procenv.fds} fds, ${procenv.inotifyWatches} inotify watches; reference ${ref.startupMs.toFixed(0)} ms, RSS ${ref.rssMb.toFixed(0)} MB${procenv.changeMs.length ? `; a changed snapshot served after ${procenv.changeMs.map((x) => x.toFixed(0)).join(', ')} ms` : ''}`);
      // Each round writes its changed snapshots back to 300 packages so that the next round finds the same folders.
      if (withTargets) writeProcessors(processorsDir, count);
    }
    const startup = median(rounds.map((x) => x.procenv.startupMs));
    const refStartup = median(rounds.map((x) => x.reference.startupMs));
    const rss = median(rounds.map((x) => x.procenv.rssMb));
    const refRss = median(rounds.map((x) => x.reference.rssMb));
    const changeMax = Math.max(0, ...rounds.flatMap((x) => x.procenv.changeMs));
    const startRatio = startup / refStartup;
    const rssRatio = rss / refRss;
    console.log(`median start-up: procenv ${startup.toFixed(0)} ms, reference ${refStartup.toFixed(0)} ms: ${startRatio.toFixed(2)} ×${withTargets ? ` (target ≤ ${START_TARGET})` : ''}`);
    console.log(`median RSS: procenv ${rss.toFixed(0)} MB, reference ${refRss.toFixed(0)} MB: ${rssRatio.toFixed(2)} ×${withTargets ? ` (target ≤ ${RSS_TARGET})` : ''}`);
    console.log(`watcher: ${rounds[0]!.procenv.fds} file descriptors, ${rounds[0]!.procenv.inotifyWatches} inotify watches`);
    if (!withTargets) return true;
    console.log(`slowest changed snapshot served after ${changeMax.toFixed(0)} ms (target ≤ ${CHANGE_TARGET_MS})`);
    if (GENERATIONS > 0) await generationsPhase(root, processorsDir, count);
    const pass = startRatio <= START_TARGET && rssRatio <= RSS_TARGET && changeMax <= CHANGE_TARGET_MS;
    console.log(`${count} processors: ${pass ? 'PASS' : 'FAIL'}`);
    return pass;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The store after GENERATIONS generations of every processor: round 1's store file (the registrations and whatever
 * first generations the service recorded), then each processor's own package set as generation 1 and each next one
 * with 3 packages upgraded (every 4th also one removed and one added), recorded as procenv records them
 * (`saveGeneration`). Reports the store file's size before and after, checkpointed, and the bytes per generation.
 */
async function generationsPhase(root: string, processorsDir: string, count: number): Promise<void> {
  const file = join(root, 'data-0', EMBEDDED_STORE_FILE);
  const store = new SqliteStore(file);
  const size = () => {
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    return statSync(file).size;
  };
  const before = size();
  const t0 = performance.now();
  let recorded = 0;
  for (let i = 0; i < count; i++) {
    const name = nameOf(i);
    let set = packagesOf('pip', JSON.parse(readFileSync(join(processorsDir, name, 'packagesInfo.json'), 'utf8')));
    for (let n = 1; n <= GENERATIONS; n++) {
      if (n > 1) set = nextGeneration(set, n, i);
      const sorted = canonicalPackages('pip', set);
      const { created } = await store.saveGeneration({
        processorName: name, manager: { kind: 'pip', version: '24.0' }, cause: 'operation', operationId: `op-${i}-${n}`, userId: USER,
        at: Date.now(), hash: generationHash('pip', sorted), packages: sorted,
      });
      if (created) recorded++;
    }
  }
  const after = size();
  await store.close();
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
  console.log(`store after ${count} processors × ${GENERATIONS} generations (${recorded} recorded in ${((performance.now() - t0) / 1000).toFixed(1)} s): `
    + `${mb(after)} (was ${mb(before)}): ${((after - before) / recorded / 1024).toFixed(2)} KB per generation`);
}

/** Generation n of a processor: 3 packages upgraded, and every 4th generation one removed and one added. */
function nextGeneration(set: GenerationPackage[], n: number, seed: number): GenerationPackage[] {
  const out = set.map((p) => ({ ...p }));
  for (let c = 0; c < 3; c++) {
    const p = out[(n * 31 + c * 97 + seed) % out.length]!;
    const [major, minor] = p.version.split('.');
    p.version = `${major}.${Number(minor) + 1}.0`;
  }
  if (n % 4 === 0) {
    out.splice((n * 13 + seed) % out.length, 1);
    out.push({ name: `added-${seed}-${n}`, version: '1.0.0', requested: false });
  }
  return out;
}

async function main(): Promise<number> {
  console.log(`node ${process.version}; building dist/ (npm run build)`);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
  const pass = await scenario(PROCESSORS, true);
  if (LARGE > 0) await scenario(LARGE, false);
  return pass ? 0 : 1;
}

process.exitCode = await main();
