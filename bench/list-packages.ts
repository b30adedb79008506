/**
 * bench/list-packages: requests/s of GET /packageManager/listPackages (authenticated, a processor of 1,000
 * packages, 50 connections) against a bare node:http server answering the same bytes, measured in the same run.
 * Target (issue "The service"): procenv reaches at least 0.7 of the bare server.
 *
 * Both servers run as child processes; autocannon drives them from this process. The two targets alternate over
 * a few rounds so that drift on a noisy machine hits both; the median of the rounds is reported.
 *
 *   node --import tsx bench/list-packages.ts [--rounds 3] [--duration 5] [--warmup 3] [--connections 50]
 *                                            [--packages 1000] [--profile DIR]
 *
 * Exit code: 0 PASS, 1 FAIL (ratio below target) or an invalid run (errors, non-2xx, wrong answers).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createSession } from '../src/cli.ts';
import { openStore } from '../src/store/open.ts';
import { cpuSeconds, integerOption, median, startChild, stopChild } from './servers/child.ts';

const TARGET = 0.7;
const PROCESSOR = 'bench_pip';
const USER = 'bench-user';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    packages: { type: 'string', default: '1000' },
    profile: { type: 'string' },
  },
});
const ROUNDS = integerOption(opts, 'rounds');
const DURATION = integerOption(opts, 'duration');
const WARMUP = integerOption(opts, 'warmup');
const CONNECTIONS = integerOption(opts, 'connections');
const PACKAGES = integerOption(opts, 'packages');

/** A packagesInfo.json in WASDI's Java form (nulls present, integer manager version), outdated and uptodate mixed. */
function packagesInfo(count: number): string {
  const outdated: unknown[] = [];
  const uptodate: unknown[] = [];
  for (let i = 0; i < count; i++) {
    // Mixed case and an order that is not sorted, so that the service's merge/sort has real work at load time.
    const n = (i * 7919) % count;
    const packageName = `${n % 3 === 0 ? 'Py' : 'py'}-package-${String(n).padStart(4, '0')}`;
    const currentVersion = `${1 + (n % 5)}.${n % 17}.${n % 11}`;
    if (n % 4 === 0) {
      outdated.push({ managerName: 'pip', packageName, currentVersion, currentBuild: null, latestVersion: `${2 + (n % 5)}.0.0`, type: 'wheel', channel: null });
    } else {
      uptodate.push({ managerName: 'pip', packageName, currentVersion, currentBuild: null, latestVersion: null, type: null, channel: null });
    }
  }
  return JSON.stringify({ packageManager: { name: 'pip', version: '22.0.2', major: 22, minor: 0, patch: 2 }, outdated, uptodate });
}

interface Round {
  reqPerSec: number;
  /** Server CPU microseconds per answered request, when /proc is there. */
  cpuUsPerReq?: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  requests: number;
}

async function load(url: string, token: string, duration: number, pid?: number): Promise<Round> {
  const cpuBefore = cpuSeconds(pid);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    headers: { 'x-session-token': token },
  });
  const cpuAfter = cpuSeconds(pid);
  const answered = result['2xx'] + result.non2xx;
  return {
    ...(cpuBefore !== undefined && cpuAfter !== undefined && answered > 0 ? { cpuUsPerReq: ((cpuAfter - cpuBefore) * 1e6) / answered } : {}),
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    requests: result.requests.total,
  };
}


async function verify(procenvUrl: string, bareUrl: string, token: string): Promise<{ body: Buffer; contentType: string }> {
  const a = await fetch(procenvUrl, { headers: { 'x-session-token': token } });
  const b = await fetch(bareUrl, { headers: { 'x-session-token': token } });
  const bodyA = Buffer.from(await a.arrayBuffer());
  const bodyB = Buffer.from(await b.arrayBuffer());
  const problems: string[] = [];
  if (a.status !== 200) problems.push(`procenv answered ${a.status}: ${bodyA.toString('utf8', 0, 200)}`);
  if (b.status !== 200) problems.push(`bare server answered ${b.status}`);
  if (!bodyA.equals(bodyB)) problems.push('the two bodies differ');
  if (a.headers.get('content-type') !== b.headers.get('content-type')) problems.push('the two content-types differ');
  const packages = JSON.parse(bodyA.toString('utf8')) as unknown[];
  if (!Array.isArray(packages) || packages.length !== PACKAGES) problems.push(`procenv listed ${packages.length} packages, expected ${PACKAGES}`);
  const anonymous = await fetch(procenvUrl);
  await anonymous.arrayBuffer();
  if (anonymous.status !== 401) problems.push(`procenv answered ${anonymous.status} without a token, expected 401`);
  if (problems.length) throw new Error(`verification failed:\n  - ${problems.join('\n  - ')}`);
  return { body: bodyA, contentType: a.headers.get('content-type') ?? '' };
}

async function main(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'procenv-bench-'));
  const children: ChildProcess[] = [];
  try {
    const dataDir = join(root, 'data');
    const processorsDir = join(root, 'processors');
    mkdirSync(join(processorsDir, PROCESSOR), { recursive: true });
    writeFileSync(join(processorsDir, PROCESSOR, 'processor.json'), JSON.stringify({
      processorId: '7d0c3f5e-1b2a-4c6d-8e9f-0a1b2c3d4e5f', name: PROCESSOR, type: 'python_pip_2', userId: USER, isPublic: 0,
    }));
    writeFileSync(join(processorsDir, PROCESSOR, 'packagesInfo.json'), packagesInfo(PACKAGES));

    // The user and its session go into the store file before the service opens it (SQLite WAL, two processes).
    const store = await openStore({ store: 'embedded', dataDir, mongodbUrl: '', mongodbDatabase: '' });
    await store.saveUser({ userId: USER, role: 'USER' });
    const token = await createSession(store, USER);
    await store.close();

    const profileArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
    const procenv = await startChild('procenv-server.ts', [dataDir, processorsDir], profileArgs);
    children.push(procenv.child);
    const path = `/packageManager/listPackages?name=${PROCESSOR}`;
    const procenvUrl = procenv.url + path;

    // The reference answers exactly what procenv answered; fetch it first, then start the bare server with it.
    const first = await fetch(procenvUrl, { headers: { 'x-session-token': token } });
    const bodyFile = join(root, 'body.json');
    writeFileSync(bodyFile, Buffer.from(await first.arrayBuffer()));
    const bare = await startChild('bare-server.ts', [bodyFile, first.headers.get('content-type') ?? 'application/json']);
    children.push(bare.child);
    const bareUrl = bare.url + path;

    const { body, contentType } = await verify(procenvUrl, bareUrl, token);
    console.log(`listPackages: ${PACKAGES} packages, ${body.length} bytes, ${contentType}; both servers answer 200 with identical bodies; procenv answers 401 without the token`);
    console.log(`load: autocannon, ${CONNECTIONS} connections, warm-up ${WARMUP} s each, ${ROUNDS} rounds × ${DURATION} s each, alternating\n`);

    const warmups = [await load(procenvUrl, token, WARMUP), await load(bareUrl, token, WARMUP)];
    const warmupBad = warmups.reduce((n, x) => n + x.non2xx + x.errors + x.timeouts, 0);
    const rounds: { procenv: Round[]; bare: Round[] } = { procenv: [], bare: [] };
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which target goes first, so neither always follows the other.
      const order = r % 2 === 0 ? (['procenv', 'bare'] as const) : (['bare', 'procenv'] as const);
      for (const which of order) {
        const target = which === 'procenv' ? procenv : bare;
        const round = await load(target.url + path, token, DURATION, target.child.pid);
        rounds[which].push(round);
        const cpu = round.cpuUsPerReq === undefined ? '' : `  server CPU ${round.cpuUsPerReq.toFixed(0)} µs/req`;
        console.log(`round ${r + 1} ${which.padEnd(7)} ${round.reqPerSec.toFixed(0).padStart(7)} req/s  p50 ${round.p50} ms  p99 ${round.p99} ms${cpu}  non-2xx ${round.non2xx}  errors ${round.errors}`);
      }
    }

    const summary = (rs: Round[]) => ({
      reqPerSec: median(rs.map((x) => x.reqPerSec)),
      p50: median(rs.map((x) => x.p50)),
      p99: median(rs.map((x) => x.p99)),
      cpu: rs.every((x) => x.cpuUsPerReq !== undefined) ? median(rs.map((x) => x.cpuUsPerReq!)) : undefined,
      bad: rs.reduce((n, x) => n + x.non2xx + x.errors + x.timeouts, 0),
      requests: rs.reduce((n, x) => n + x.requests, 0),
    });
    const p = summary(rounds.procenv);
    const b = summary(rounds.bare);
    const ratio = p.reqPerSec / b.reqPerSec;
    console.log('\n               req/s (median)   p50 ms   p99 ms   server CPU µs/req   requests   non-2xx+errors');
    for (const [name, s] of [['procenv', p], ['bare node:http', b]] as const) {
      const cpu = s.cpu === undefined ? '-' : s.cpu.toFixed(0);
      console.log(`${name.padEnd(15)}${s.reqPerSec.toFixed(0).padStart(14)}${String(s.p50).padStart(9)}${String(s.p99).padStart(9)}${cpu.padStart(20)}${String(s.requests).padStart(11)}${String(s.bad).padStart(17)}`);
    }
    // Each round's procenv figure against the bare figure measured next to it: drift between rounds cancels out.
    const paired = rounds.procenv.map((x, i) => x.reqPerSec / rounds.bare[i]!.reqPerSec);
    console.log(`\nper-round ratios: ${paired.map((x) => x.toFixed(2)).join(', ')} (median ${median(paired).toFixed(2)})`);
    if (p.cpu !== undefined && b.cpu !== undefined) {
      // CPU time per request moves far less than req/s when other work shares the machine.
      console.log(`server CPU per request: procenv ${p.cpu.toFixed(0)} µs, bare ${b.cpu.toFixed(0)} µs (procenv costs ${(p.cpu / b.cpu).toFixed(1)}× the bare server)`);
    }
    const bad = p.bad + b.bad + warmupBad;
    if (bad > 0) {
      console.log(`\nINVALID: ${bad} non-2xx responses or errors during the run (warm-up included)`);
      return 1;
    }
    const pass = ratio >= TARGET;
    console.log(`\nratio procenv / bare = ${ratio.toFixed(2)} (target ≥ ${TARGET}): ${pass ? 'PASS' : 'FAIL'}`);
    return pass ? 0 : 1;
  } finally {
    for (const child of children) await stopChild(child);
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
