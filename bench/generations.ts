/**
 * bench/generations: what generations cost in the store. N processors × G generations of a realistic pip package
 * set (P packages with names and versions of PyPI's shapes, about 15 % asked for by name, the rest dependencies),
 * a few packages changed per generation (C upgraded, and every 4th generation one dependency added and one removed),
 * recorded through the embedded store exactly as procenv records them (`SqliteStore.saveGeneration`). Reported:
 *
 * - bytes per generation in the store file: the pages of the generation tables (SQLite's dbstat), and the payload
 *   (the JSON the rows hold);
 * - the reference, measured in the same run: every generation's whole package set stored as it is, one row each, in
 *   a second SQLite file with the same page size;
 * - the time to record a generation and to read one back whole.
 *
 * Every generation is read back and compared with what was recorded (an invalid run exits 1). Target: at most a
 * quarter of the reference's bytes (PASS/FAIL, exit 0/1).
 *
 *   node --import tsx bench/generations.ts [--processors 10] [--generations 20] [--packages 300] [--changes 3]
 *                                          [--shared-base]   (every processor's first generation the same set,
 *                                                             as processors built from one image are)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { canonicalPackages, generationHash, type GenerationDraft, type GenerationPackage } from '../src/domain/generations.ts';
import { SqliteStore } from '../src/store/embedded/sqlite-store.ts';
import { integerOption, median, seededRandom } from './servers/child.ts';

const { values: opts } = parseArgs({
  options: {
    processors: { type: 'string', default: '10' },
    generations: { type: 'string', default: '20' },
    packages: { type: 'string', default: '300' },
    changes: { type: 'string', default: '3' },
    'shared-base': { type: 'boolean', default: false },
  },
});
const PROCESSORS = integerOption(opts, 'processors');
const GENERATIONS = integerOption(opts, 'generations');
const PACKAGES = integerOption(opts, 'packages');
const CHANGES = integerOption(opts, 'changes', 0);
const TARGET_RATIO = 0.25;

const random = seededRandom;

const SUFFIXES = ['-utils', '-core', '-io', 'lib', '-python', '-sdk', '-plugin', '-types'];

/**
 * A name of a PyPI shape: random letters (less repetitive, so compressing less, than real names are), a third of
 * them with one of the usual suffixes, and an index that keeps them unique.
 */
function packageName(rand: () => number, i: number): string {
  const letters = Array.from({ length: 3 + Math.floor(rand() * 10) }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join('');
  return `${rand() < 0.2 ? 'py' : ''}${letters}${rand() < 0.33 ? SUFFIXES[Math.floor(rand() * SUFFIXES.length)] : ''}${i}`;
}

function version(rand: () => number): string {
  const v = `${Math.floor(rand() * 30)}.${Math.floor(rand() * 40)}.${Math.floor(rand() * 20)}`;
  return rand() < 0.05 ? `${v}.post1` : v;
}

function baseSet(rand: () => number, count: number): GenerationPackage[] {
  return Array.from({ length: count }, (_, i) => ({ name: packageName(rand, i), version: version(rand), requested: rand() < 0.15 }));
}

/** The next state: `changes` packages upgraded; every 4th generation a dependency added and one removed. */
function next(rand: () => number, set: GenerationPackage[], n: number): GenerationPackage[] {
  const out = set.map((p) => ({ ...p }));
  for (let c = 0; c < CHANGES; c++) {
    const p = out[Math.floor(rand() * out.length)]!;
    const [major, minor] = p.version.split('.');
    p.version = `${major}.${Number(minor) + 1}.0`;
  }
  if (n % 4 === 0) {
    out.splice(Math.floor(rand() * out.length), 1);
    out.push({ name: packageName(rand, 10_000 + n), version: version(rand), requested: false });
  }
  return out;
}

function draft(name: string, packages: GenerationPackage[], n: number): GenerationDraft {
  const sorted = canonicalPackages('pip', packages);
  return {
    processorName: name, manager: { kind: 'pip', version: '24.0' }, cause: 'operation', operationId: `0f6a7c1e-5b2d-4c8e-9a13-${String(n).padStart(12, '0')}`,
    userId: 'bench-user', at: 1_700_000_000_000 + n, hash: generationHash('pip', sorted), packages: sorted,
  };
}

function tableBytes(db: Database.Database, tables: string[]): number {
  const rows = db.prepare(`SELECT name, SUM(pgsize) AS bytes FROM dbstat WHERE name IN (${tables.map(() => '?').join(', ')}) GROUP BY name`).all(...tables) as { bytes: number }[];
  return rows.reduce((sum, r) => sum + r.bytes, 0);
}

const root = mkdtempSync(join(tmpdir(), 'procenv-bench-generations-'));
let exitCode = 0;
try {
  console.log(`node ${process.version}; ${PROCESSORS} processors × ${GENERATIONS} generations of ${PACKAGES} packages, ${CHANGES} upgraded per generation${opts['shared-base'] ? ', one base set shared by all' : ''}`);
  const store = new SqliteStore(join(root, 'procenv.sqlite'));
  const reference = new Database(join(root, 'reference.sqlite'));
  reference.pragma('journal_mode = WAL');
  reference.exec('CREATE TABLE generations (processorName TEXT NOT NULL, number INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (processorName, number))');
  const insertReference = reference.prepare('INSERT INTO generations (processorName, number, doc) VALUES (?, ?, ?)');

  const recorded = new Map<string, GenerationDraft[]>();
  const saveMs: number[] = [];
  const sharedBase = baseSet(random(1), PACKAGES);
  for (let p = 0; p < PROCESSORS; p++) {
    const rand = random(1000 + p);
    const name = `proc_${String(p).padStart(4, '0')}`;
    let set = opts['shared-base'] ? sharedBase : baseSet(rand, PACKAGES);
    const drafts: GenerationDraft[] = [];
    for (let n = 1; n <= GENERATIONS; n++) {
      if (n > 1) set = next(rand, set, n);
      const d = draft(name, set, n);
      const t0 = performance.now();
      const { created } = await store.saveGeneration(d);
      saveMs.push(performance.now() - t0);
      if (!created) throw new Error(`${name}: generation ${n} was not recorded`);
      drafts.push(d);
      const { packages, ...summary } = d;
      insertReference.run(name, n, JSON.stringify({ ...summary, number: n, packageCount: packages.length, packages }));
    }
    recorded.set(name, drafts);
  }

  // Every generation back, whole and equal to what was recorded.
  const readMs: number[] = [];
  let wrong = 0;
  for (const [name, drafts] of recorded) {
    for (const [i, d] of drafts.entries()) {
      const t0 = performance.now();
      const g = await store.findGeneration(name, i + 1);
      readMs.push(performance.now() - t0);
      if (!g || g.hash !== d.hash || JSON.stringify(g.packages) !== JSON.stringify(d.packages)) wrong++;
    }
  }

  const total = PROCESSORS * GENERATIONS;
  const procenvBytes = tableBytes(store.db, ['generations', 'packagesets', 'sqlite_autoindex_packagesets_1']);
  const referenceBytes = tableBytes(reference, ['generations', 'sqlite_autoindex_generations_1']);
  const payload = (store.db.prepare('SELECT (SELECT SUM(LENGTH(doc)) FROM generations) + (SELECT SUM(LENGTH(packages)) FROM packagesets) AS bytes').get() as { bytes: number }).bytes;
  const referencePayload = (reference.prepare('SELECT SUM(LENGTH(doc)) AS bytes FROM generations').get() as { bytes: number }).bytes;
  const sets = (store.db.prepare('SELECT COUNT(*) AS n FROM packagesets').get() as { n: number }).n;
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  console.log(`whole package sets stored: ${sets} for ${total} generations`);
  console.log(`procenv   : ${kb(procenvBytes / total)} per generation in pages (${kb(payload / total)} payload); ${kb(procenvBytes)} in all`);
  console.log(`reference : ${kb(referenceBytes / total)} per generation in pages (${kb(referencePayload / total)} payload): every set stored whole`);
  console.log(`record a generation: median ${median(saveMs).toFixed(2)} ms; read one back whole: median ${median(readMs).toFixed(2)} ms`);
  const ratio = procenvBytes / referenceBytes;
  const valid = wrong === 0;
  const verdict = !valid ? 'INVALID' : ratio <= TARGET_RATIO ? 'PASS' : 'FAIL';
  console.log(`ratio procenv / reference: ${ratio.toFixed(3)} (target ≤ ${TARGET_RATIO}); generations read back wrong: ${wrong}: ${verdict}`);
  exitCode = verdict === 'PASS' ? 0 : 1;
  await store.close();
  reference.close();
} finally {
  rmSync(root, { recursive: true, force: true });
}
process.exitCode = exitCode;
