/**
 * bench/search: a search across processors from procenv's in-memory package index, next to a full scan of the same
 * snapshots (every packagesInfo.json read, parsed and matched per query, as an answer without an index would be
 * made), in one process and one run. procenv runs in-process on an embedded store with N processor folders of P
 * packages (names from a vocabulary of V, the popular ones on most processors, as numpy and requests are), three
 * processor types, a fifth of the packages outdated. The caller is a plain user who owns the processors (read
 * permission checked as for every request); the queries mix a popular exact name, rare names, substrings, and
 * filters by manager, type and upgradable.
 *
 * Reported: p50 and p99 of each, and the ratio scan / index at p50. Targets: index p99 under 20 ms, at least 20 ×
 * faster than the scan. Every index answer is checked against the scan's (an invalid run exits 1).
 *
 *   node --import tsx bench/search.ts [--processors 1000] [--packages 300] [--vocabulary 4000] [--queries 400] [--scans 40]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../src/config/load.ts';
import { packageKey } from '../src/domain/generations.ts';
import { mergePackages, parsePackagesInfo } from '../src/domain/packages.ts';
import type { SearchFilters, SearchRow } from '../src/fleet/package-index.ts';
import { startService } from '../src/main.ts';
import { integerOption, median, seededRandom } from './servers/child.ts';

const { values: opts } = parseArgs({
  options: {
    processors: { type: 'string', default: '1000' },
    packages: { type: 'string', default: '300' },
    vocabulary: { type: 'string', default: '4000' },
    queries: { type: 'string', default: '400' },
    scans: { type: 'string', default: '40' },
  },
});
const PROCESSORS = integerOption(opts, 'processors');
const PACKAGES = integerOption(opts, 'packages');
const VOCABULARY = integerOption(opts, 'vocabulary');
const QUERIES = integerOption(opts, 'queries');
const SCANS = integerOption(opts, 'scans');
const P99_TARGET_MS = 20;
const RATIO_TARGET = 20;
const USER = 'search-user';
const TYPES = ['python_pip_2', 'pip_oneshot', 'python312'];

const random = seededRandom;

const SYLLABLES = ['py', 'geo', 'ras', 'ter', 'num', 'sci', 'data', 'io', 'net', 'cdf', 'x', 'ar', 'ray', 'sat', 'sen', 'tinel', 'land', 'cv', 'tile', 'map', 'proj', 'crs', 'grib', 'zarr', 'h5', 'shape', 'ly', 'req', 'uests', 'click', 'tool', 'kit', 'lib', 'core', 'utils'];
const vocabulary = (() => {
  const rand = random(7);
  const names = new Map<string, string>();
  while (names.size < VOCABULARY) {
    const parts = 1 + Math.floor(rand() * 3);
    let name = '';
    for (let i = 0; i < parts; i++) name += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    if (rand() < 0.3) name += `-${SYLLABLES[Math.floor(rand() * SYLLABLES.length)]}`;
    if (rand() < 0.2) name += String(Math.floor(rand() * 10));
    // One spelling per project: pip takes `Geotile` and `geotile` for one.
    if (!names.has(packageKey('pip', name))) names.set(packageKey('pip', name), rand() < 0.1 ? name[0]!.toUpperCase() + name.slice(1) : name);
  }
  return [...names.values()];
})();

/** A processor's packages: the 40 most popular names, then others drawn with a popularity that falls with rank. */
function packagesOf(i: number): { name: string; version: string; latest?: string }[] {
  const rand = random(1000 + i);
  const chosen = new Set<string>(vocabulary.slice(0, Math.min(40, PACKAGES)));
  while (chosen.size < PACKAGES) chosen.add(vocabulary[Math.floor(vocabulary.length * rand() ** 2.5)]!);
  return [...chosen].map((name) => {
    const version = `${1 + Math.floor(rand() * 4)}.${Math.floor(rand() * 20)}.${Math.floor(rand() * 10)}`;
    return rand() < 0.2 ? { name, version, latest: `${5 + Math.floor(rand() * 3)}.0.0` } : { name, version };
  });
}

function writeProcessors(dir: string): void {
  for (let i = 0; i < PROCESSORS; i++) {
    const name = `proc_${String(i).padStart(5, '0')}`;
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'processor.json'), JSON.stringify({ processorId: `search-${i}`, name, type: TYPES[i % TYPES.length], userId: USER, isPublic: 0 }));
    const pkgs = packagesOf(i);
    const row = (p: (typeof pkgs)[number]) => ({ managerName: 'pip', packageName: p.name, currentVersion: p.version, currentBuild: null, latestVersion: p.latest ?? null, type: p.latest ? 'wheel' : null, channel: null });
    writeFileSync(join(folder, 'packagesInfo.json'), JSON.stringify({
      packageManager: { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 },
      outdated: pkgs.filter((p) => p.latest).map(row), uptodate: pkgs.filter((p) => !p.latest).map(row),
    }));
  }
}

/** The queries, the same on each side: a popular exact name, rare names, substrings, and filters. */
function queries(): SearchFilters[] {
  const rand = random(99);
  const list: SearchFilters[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const kind = i % 6;
    const name = vocabulary[kind === 0 ? Math.floor(rand() * 40) : Math.floor(rand() * vocabulary.length)]!;
    if (kind === 0 || kind === 1) list.push({ q: name });
    else if (kind === 2) list.push({ q: name.slice(0, 3) });
    else if (kind === 3) list.push({ q: SYLLABLES[Math.floor(rand() * SYLLABLES.length)]!, upgradable: true });
    else if (kind === 4) list.push({ q: name.slice(1, 4), type: TYPES[i % TYPES.length]! });
    else list.push({ q: name, manager: 'pip' });
  }
  return list;
}

/** The same answer without an index: every snapshot read and parsed, every package matched. */
function scan(processorsDir: string, names: string[], types: Map<string, string>, f: SearchFilters): SearchRow[] {
  const q = (f.q ?? '').toLowerCase().replace(/[-_.]+/g, '-');
  const rows = new Map<string, SearchRow>();
  for (const processor of names) {
    if (f.type !== undefined && types.get(processor) !== f.type) continue;
    const info = parsePackagesInfo(readFileSync(join(processorsDir, processor, 'packagesInfo.json'), 'utf8'));
    for (const p of mergePackages(info)) {
      const key = packageKey('pip', p.packageName);
      if (q !== '' && !key.includes(q)) continue;
      let row = rows.get(key);
      if (!row) rows.set(key, row = { name: p.packageName, manager: 'pip', installed: [], upgradable: [], held: [] });
      row.installed.push({ processor, version: p.currentVersion ?? '' });
      if (p.latestVersion && p.latestVersion !== p.currentVersion) row.upgradable.push({ processor, version: p.currentVersion ?? '', latest: p.latestVersion });
    }
  }
  return [...rows.values()].filter((r) => f.upgradable === undefined || (r.upgradable.length > 0) === f.upgradable);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Rows compared as sets: the index orders exact names first, the scan does not order at all. */
function sameRows(a: SearchRow[], b: SearchRow[]): boolean {
  const canon = (rows: SearchRow[]) => JSON.stringify(rows.map((r) => ({
    ...r, installed: [...r.installed].sort((x, y) => x.processor.localeCompare(y.processor)),
    upgradable: [...r.upgradable].sort((x, y) => x.processor.localeCompare(y.processor)),
  })).sort((x, y) => packageKey('pip', x.name).localeCompare(packageKey('pip', y.name))));
  return canon(a) === canon(b);
}

const root = mkdtempSync(join(tmpdir(), 'procenv-bench-search-'));
let exitCode = 1;
try {
  const processorsDir = join(root, 'processors');
  writeProcessors(processorsDir);
  const config = loadConfig({ env: {}, overrides: { host: '127.0.0.1', port: 0, dataDir: join(root, 'data'), processorsDir, logLevel: 'silent', 'pip.wheelCacheMegabytes': 0 } });
  const svc = await startService(config, { log: pino({ level: 'silent' }) });
  try {
    await svc.worker.stop();
    await svc.catalog.watched();
    const caller = { userId: USER, admin: false };
    const page = { limit: 500, offset: 0 };
    const t0 = performance.now();
    await svc.inventory.search(caller, { q: 'warm' }, page);
    const buildMs = performance.now() - t0;
    const names = svc.inventory.index.processors().map((p) => p.name).sort();
    const types = new Map(svc.inventory.index.processors().map((p) => [p.name, p.type]));
    console.log(`node ${process.version}; ${names.length} processors × ${PACKAGES} packages (${vocabulary.length} names), index built on the first search in ${buildMs.toFixed(0)} ms`);

    const list = queries();
    const indexMs: number[] = [];
    let rowsSeen = 0;
    for (const f of list) {
      const t = performance.now();
      const rows = await svc.inventory.search(caller, f, page);
      indexMs.push(performance.now() - t);
      rowsSeen += rows.length;

    }
    const scanMs: number[] = [];
    let wrong = 0;
    for (const f of list.slice(0, SCANS)) {
      const t = performance.now();
      const expected = scan(processorsDir, names, types, f);
      scanMs.push(performance.now() - t);
      const got = svc.inventory.index.matches(f, () => true);
      if (!sameRows(got, expected)) wrong++;
    }
    const [ip50, ip99] = [median(indexMs), percentile(indexMs, 99)];
    const [sp50, sp99] = [median(scanMs), percentile(scanMs, 99)];
    const ratio = sp50 / ip50;
    console.log(`index: ${list.length} searches, p50 ${ip50.toFixed(2)} ms, p99 ${ip99.toFixed(2)} ms (${(rowsSeen / list.length).toFixed(1)} rows per answer, at most 500)`);
    console.log(`scan : ${scanMs.length} searches, p50 ${sp50.toFixed(1)} ms, p99 ${sp99.toFixed(1)} ms (every snapshot read and parsed per search)`);
    const valid = wrong === 0;
    const pass = ip99 < P99_TARGET_MS && ratio >= RATIO_TARGET;
    console.log(`ratio scan / index at p50: ${ratio.toFixed(0)} × (target ≥ ${RATIO_TARGET}); index p99 ${ip99.toFixed(2)} ms (target < ${P99_TARGET_MS}); answers that differ from the scan's: ${wrong}: ${!valid ? 'INVALID' : pass ? 'PASS' : 'FAIL'}`);
    exitCode = valid && pass ? 0 : 1;
  } finally {
    await svc.stop();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
process.exitCode = exitCode;
