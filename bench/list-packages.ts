/**
 * bench/list-packages: GET /packageManager/listPackages (authenticated, a processor of 1,000 packages, an 89 KB
 * answer) driven by wrk against four servers in one run, rounds alternated:
 *   - procenv;
 *   - a minimal Koa app (koa and @koa/router, one route answering the same Buffer): the floor of any Koa service;
 *   - a bare node:http server sending the same bytes;
 *   - WASDI's way (plain answer only): a node:http server that reads and parses the file for every request.
 * Targets: procenv at least 0.9 × the Koa app in req/s and at most 1.15 × its server CPU µs per request (from
 * /proc, which moves less than req/s on a shared machine); the ratio to bare node:http is printed beside them.
 * When procenv answers with an ETag, the 304 path (If-None-Match) and the gzip path (Accept-Encoding: gzip) are
 * measured as well, against the two references sending the same bytes.
 *
 *   node --import tsx bench/list-packages.ts [--rounds 5] [--duration 8] [--warmup 3] [--connections 50]
 *                                            [--packages 1000] [--profile DIR] [--no-pin]
 *
 * wrk (Debian's package) is installed with apt-get when it is missing and this runs as root.
 * Exit code: 0 PASS, 1 FAIL (a target missed) or an invalid run (errors, non-2xx, wrong answers).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { createSession } from '../src/cli.ts';
import { openStore } from '../src/store/open.ts';
import { cpuSeconds, integerOption, median, pinnedCpus, startChild, stopChild } from './servers/child.ts';
import { ensureWrk, wrk, type WrkResult } from './servers/wrk.ts';

const TARGET_REQ = 0.9;
const TARGET_CPU = 1.15;
const PROCESSOR = 'bench_pip';
const USER = 'bench-user';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    packages: { type: 'string', default: '1000' },
    profile: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
  },
});
const ROUNDS = integerOption(opts, 'rounds');
const DURATION = integerOption(opts, 'duration');
const WARMUP = integerOption(opts, 'warmup');
/** Seconds of load on a server just before each of its measured rounds (not counted). */
const ROUND_WARMUP = 1;
const CONNECTIONS = integerOption(opts, 'connections');
const PACKAGES = integerOption(opts, 'packages');
/** Servers on one core, wrk on the other (unless --no-pin, or the machine cannot). */
const PIN = opts['no-pin'] ? undefined : pinnedCpus();

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

interface Round extends WrkResult {
  /** Server CPU microseconds per answered request, when /proc is there. */
  cpuUsPerReq?: number;
}

type TargetName = 'procenv' | 'koa' | 'bare' | 'wasdi';
/** The servers measured for every request shape; WASDI's way answers the plain one only (no ETag, no gzip). */
const TARGETS: TargetName[] = ['procenv', 'koa', 'bare'];
const LABEL: Record<TargetName, string> = { procenv: 'procenv', koa: 'minimal Koa', bare: 'bare node:http', wasdi: "WASDI's way" };
type Summaries = Record<'procenv' | 'koa' | 'bare', Summary> & { wasdi?: Summary };

async function load(url: string, headers: Record<string, string>, seconds: number, pid?: number): Promise<Round> {
  const cpuBefore = cpuSeconds(pid);
  const result = await wrk(url, { seconds, connections: CONNECTIONS, headers, ...(PIN ? { cpu: PIN.load } : {}) });
  const cpuAfter = cpuSeconds(pid);
  return {
    ...result,
    ...(cpuBefore !== undefined && cpuAfter !== undefined && result.requests > 0 ? { cpuUsPerReq: ((cpuAfter - cpuBefore) * 1e6) / result.requests } : {}),
  };
}

/** What procenv answers, fetched once: the reference servers send exactly these bytes. */
interface Answer {
  body: Buffer;
  contentType: string;
  etag?: string;
  gzipped?: Buffer;
}

async function fetchAnswer(url: string, headers: Record<string, string>): Promise<Answer> {
  const plain = await fetch(url, { headers: { ...headers, 'accept-encoding': 'identity' } });
  const body = Buffer.from(await plain.arrayBuffer());
  if (plain.status !== 200) throw new Error(`procenv answered ${plain.status}: ${body.toString('utf8', 0, 200)}`);
  const etag = plain.headers.get('etag') ?? undefined;
  const answer: Answer = { body, contentType: plain.headers.get('content-type') ?? '', ...(etag ? { etag } : {}) };
  // fetch() decompresses by itself; node:http shows the bytes as sent.
  const { request } = await import('node:http');
  const gz = await new Promise<{ status: number; encoding?: string; bytes: Buffer }>((resolve, reject) => {
    request(url, { headers: { ...headers, 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers['content-encoding'] ? { encoding: String(res.headers['content-encoding']) } : {}), bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
  if (gz.status === 200 && gz.encoding === 'gzip') {
    if (!gunzipSync(gz.bytes).equals(body)) throw new Error('procenv\'s gzip answer does not unpack to its plain answer');
    answer.gzipped = gz.bytes;
  }
  return answer;
}

async function verify(urls: Record<TargetName, string>, headers: Record<string, string>, expected: Answer): Promise<void> {
  const problems: string[] = [];
  for (const name of [...TARGETS, 'wasdi'] as const) {
    const res = await fetch(urls[name], { headers: { ...headers, 'accept-encoding': 'identity' } });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) problems.push(`${name} answered ${res.status}`);
    if (!body.equals(expected.body)) problems.push(`${name}'s body differs from procenv's`);
    if (res.headers.get('content-type') !== expected.contentType) problems.push(`${name}'s content-type differs`);
  }
  const packages = JSON.parse(expected.body.toString('utf8')) as unknown[];
  if (!Array.isArray(packages) || packages.length !== PACKAGES) problems.push(`procenv listed ${packages.length} packages, expected ${PACKAGES}`);
  const anonymous = await fetch(urls.procenv);
  await anonymous.arrayBuffer();
  if (anonymous.status !== 401) problems.push(`procenv answered ${anonymous.status} without a token, expected 401`);
  if (expected.etag) {
    const conditional = await fetch(urls.procenv, { headers: { ...headers, 'if-none-match': expected.etag } });
    if (conditional.status !== 304) problems.push(`procenv answered ${conditional.status} to If-None-Match with its ETag, expected 304`);
  }
  if (problems.length) throw new Error(`verification failed:\n  - ${problems.join('\n  - ')}`);
}

interface Summary {
  reqPerSec: number;
  p50: number;
  p99: number;
  cpu?: number;
  bad: number;
  requests: number;
}

function summary(rs: Round[]): Summary {
  return {
    reqPerSec: median(rs.map((x) => x.reqPerSec)),
    p50: median(rs.map((x) => x.p50)),
    p99: median(rs.map((x) => x.p99)),
    ...(rs.every((x) => x.cpuUsPerReq !== undefined) ? { cpu: median(rs.map((x) => x.cpuUsPerReq!)) } : {}),
    bad: rs.reduce((n, x) => n + x.non2xx + x.errors, 0),
    requests: rs.reduce((n, x) => n + x.requests, 0),
  };
}

/** Alternated rounds of one request shape against the servers named; prints each round and the medians. */
async function measure(title: string, urls: Record<TargetName, string>, pids: Record<TargetName, number | undefined>, headers: Record<string, string>, names: TargetName[] = TARGETS): Promise<Summaries> {
  console.log(`\n== ${title}`);
  for (const name of names) await load(urls[name], headers, WARMUP);
  const rounds: Record<TargetName, Round[]> = { procenv: [], koa: [], bare: [], wasdi: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate which target goes first, so that none always follows another.
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    for (const name of order) {
      // A server idle while the others were measured has had its heap reduced by V8 (a "reduce" mark-compact, a
      // smaller young generation): a second of load first, so that each round measures a server under load.
      await load(urls[name], headers, ROUND_WARMUP);
      const round = await load(urls[name], headers, DURATION, pids[name]);
      rounds[name].push(round);
      const cpu = round.cpuUsPerReq === undefined ? '' : `  CPU ${round.cpuUsPerReq.toFixed(1)} µs/req`;
      console.log(`round ${r + 1} ${LABEL[name].padEnd(15)} ${round.reqPerSec.toFixed(0).padStart(7)} req/s  p50 ${round.p50.toFixed(2)} ms  p99 ${round.p99.toFixed(2)} ms${cpu}  non-2xx ${round.non2xx}  errors ${round.errors}`);
    }
  }
  const result: Summaries = {
    procenv: summary(rounds.procenv), koa: summary(rounds.koa), bare: summary(rounds.bare),
    ...(names.includes('wasdi') ? { wasdi: summary(rounds.wasdi) } : {}),
  };
  console.log('\n                req/s (median)   p50 ms   p99 ms   CPU µs/req   requests   non-2xx+errors');
  for (const name of names) {
    const s = result[name]!;
    console.log(`${LABEL[name].padEnd(16)}${s.reqPerSec.toFixed(0).padStart(14)}${s.p50.toFixed(2).padStart(9)}${s.p99.toFixed(2).padStart(9)}${(s.cpu === undefined ? '-' : s.cpu.toFixed(1)).padStart(13)}${String(s.requests).padStart(11)}${String(s.bad).padStart(17)}`);
  }
  const paired = (ref: TargetName) => rounds.procenv.map((x, i) => x.reqPerSec / rounds[ref][i]!.reqPerSec);
  console.log(`per-round req/s ratios procenv / Koa: ${paired('koa').map((x) => x.toFixed(2)).join(', ')} (median ${median(paired('koa')).toFixed(2)}); procenv / bare: ${paired('bare').map((x) => x.toFixed(2)).join(', ')}`
    + (result.wasdi ? `; procenv / WASDI's way: ${paired('wasdi').map((x) => x.toFixed(0)).join(', ')}` : ''));
  return result;
}

async function main(): Promise<number> {
  const wrkBinary = ensureWrk();
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
    const auth = { 'x-session-token': token };

    const profileArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
    const procenv = await startChild('procenv-server.ts', [dataDir, processorsDir], profileArgs, {}, PIN?.server);
    children.push(procenv.child);
    const path = `/packageManager/listPackages?name=${PROCESSOR}`;

    // The references answer exactly what procenv answered; fetch it first, then start them with it.
    const answer = await fetchAnswer(procenv.url + path, auth);
    const bodyFile = join(root, 'body.json');
    writeFileSync(bodyFile, answer.body);
    const extra: string[] = [];
    if (answer.etag && answer.gzipped) {
      writeFileSync(join(root, 'body.json.gz'), answer.gzipped);
      extra.push(answer.etag, join(root, 'body.json.gz'));
    }
    const koa = await startChild('koa-server.ts', [bodyFile, answer.contentType, ...extra], [], {}, PIN?.server);
    children.push(koa.child);
    const bare = await startChild('bare-server.ts', [bodyFile, answer.contentType, ...extra], [], {}, PIN?.server);
    children.push(bare.child);
    const wasdi = await startChild('wasdi-way-server.ts', [processorsDir, answer.contentType], [], {}, PIN?.server);
    children.push(wasdi.child);
    const urls = { procenv: procenv.url + path, koa: koa.url + path, bare: bare.url + path, wasdi: wasdi.url + path };
    const pids = { procenv: procenv.child.pid, koa: koa.child.pid, bare: bare.child.pid, wasdi: wasdi.child.pid };

    await verify(urls, auth, answer);
    console.log(`node ${process.version}; ${wrkBinary} -t1 -c${CONNECTIONS}, warm-up ${WARMUP} s, ${ROUNDS} rounds × ${DURATION} s per server (each after ${ROUND_WARMUP} s of load), rotated; ${PIN ? `servers on CPU ${PIN.server}, wrk on CPU ${PIN.load}` : 'not pinned to CPUs'}`);
    console.log(`listPackages: ${PACKAGES} packages, ${answer.body.length} bytes${answer.gzipped ? ` (${answer.gzipped.length} gzipped)` : ''}, ${answer.contentType}${answer.etag ? `, ETag ${answer.etag}` : ', no ETag'}; the four servers answer identical bodies; procenv answers 401 without the token`);

    const plain = await measure('plain answer', urls, pids, { ...auth, 'accept-encoding': 'identity' }, [...TARGETS, 'wasdi']);
    const extraPaths: [string, Summaries][] = [];
    if (answer.etag) extraPaths.push(['304 (If-None-Match)', await measure('304: If-None-Match with the current ETag', urls, pids, { ...auth, 'if-none-match': answer.etag })]);
    if (answer.gzipped) extraPaths.push(['gzip', await measure('gzip: Accept-Encoding: gzip', urls, pids, { ...auth, 'accept-encoding': 'gzip' })]);

    const all = [plain, ...extraPaths.map(([, s]) => s)];
    const bad = all.reduce((n, s) => n + Object.values(s).reduce((m: number, x: Summary) => m + x.bad, 0), 0);
    console.log('\n== ratios (medians)');
    for (const [label, s] of [['plain', plain] as const, ...extraPaths]) {
      const cpu = s.procenv.cpu !== undefined && s.koa.cpu !== undefined ? `, CPU ${(s.procenv.cpu / s.koa.cpu).toFixed(2)} × Koa` : '';
      const wasdiWay = s.wasdi ? `; procenv / WASDI's way ${(s.procenv.reqPerSec / s.wasdi.reqPerSec).toFixed(0)} × req/s` : '';
      console.log(`${label.padEnd(20)} procenv / Koa ${(s.procenv.reqPerSec / s.koa.reqPerSec).toFixed(2)} req/s${cpu}; procenv / bare node:http ${(s.procenv.reqPerSec / s.bare.reqPerSec).toFixed(2)} req/s${wasdiWay}`);
    }
    if (bad > 0) {
      console.log(`\nINVALID: ${bad} non-2xx responses or errors during the run`);
      return 1;
    }
    const reqRatio = plain.procenv.reqPerSec / plain.koa.reqPerSec;
    const cpuRatio = plain.procenv.cpu !== undefined && plain.koa.cpu !== undefined ? plain.procenv.cpu / plain.koa.cpu : undefined;
    const pass = reqRatio >= TARGET_REQ && (cpuRatio === undefined || cpuRatio <= TARGET_CPU);
    console.log(`\nplain answer: procenv / Koa = ${reqRatio.toFixed(2)} req/s (target ≥ ${TARGET_REQ}), CPU ${cpuRatio === undefined ? 'n/a' : cpuRatio.toFixed(2)} × (target ≤ ${TARGET_CPU}): ${pass ? 'PASS' : 'FAIL'}`);
    return pass ? 0 : 1;
  } finally {
    for (const child of children) await stopChild(child);
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
