import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import test from 'ava';
import { strToU8, zipSync } from 'fflate';
import { affects, parseOsvAdvisory, securityTargetOf, type AdvisoryInfo } from '../../src/domain/advisories.ts';
import { AdvisoryFeed } from '../../src/fleet/advisory-feed.ts';
import { AdvisoryLoadError, DEFAULT_ADVISORY_LIMITS, loadAdvisories } from '../../src/fleet/advisory-files.ts';
import { createLogger } from '../../src/logger.ts';
import { waitUntil } from '../helpers/cluster.ts';

// The OSV fixtures (test/fixtures/osv, made up, package demo-pkg):
//   PYSEC-2099-1    ranges [0, 1.2.0) and [2.0, 2.0.3), a GIT range; CVSS vector only
//   GHSA-demo-0002  range [1.0, 1.3.0), severity HIGH, alias CVE-2099-0002
//   PYSEC-2099-3    explicit versions 1.3.0, 1.3.1, 2024.local-build (not PEP 440)
//   nested/GHSA-demo-0004  range [1.5, 1.9.9] (last_affected)
//   GHSA-demo-0005  an npm "demo-pkg" (ignored) and PyPI Other.Lib 0.9
//   PYSEC-2099-6    withdrawn; broken.json (not JSON), wrong-shape.json (id not a string), README.txt (not an advisory)

const FIXTURES = new URL('../fixtures/osv/', import.meta.url).pathname;
const silent = createLogger('silent');

function tempCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-osv-'));
  cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

/** Every file of a folder, by its path inside it, as a zip (fflate's zipSync). */
function zipOf(dir: string, extra: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files[relative(dir, p)] = readFileSync(p);
    }
  };
  walk(dir);
  return zipSync({ ...files, ...extra });
}

const ids = (list: readonly { advisory: AdvisoryInfo }[]) => list.map((a) => a.advisory.id).sort();

test('the fixture folder loads every PyPI advisory, indexed by PEP 503 name, and skips the malformed files by name', async (t) => {
  const loaded = await loadAdvisories(FIXTURES);
  t.is(loaded.source, 'folder');
  t.is(loaded.database.size, 5, 'four on demo-pkg, one on other-lib; the withdrawn one left out');
  t.is(loaded.files, 8, 'every .json file read, README.txt not');
  t.deepEqual(loaded.skipped.sort((a, b) => a.file.localeCompare(b.file)), [
    { file: 'broken.json', reason: 'not valid JSON' },
    { file: 'wrong-shape.json', reason: 'no valid "id"' },
  ]);
  // Any spelling of the name finds the same advisories; the npm package of the same name is not among them.
  t.deepEqual(ids(loaded.database.forPackage('demo-pkg')), ['GHSA-demo-0002', 'GHSA-demo-0004', 'PYSEC-2099-1', 'PYSEC-2099-3']);
  t.deepEqual(ids(loaded.database.forPackage('Demo__PKG')), ids(loaded.database.forPackage('demo.pkg')));
  t.deepEqual(ids(loaded.database.forPackage('other_lib')), ['GHSA-demo-0005']);
  t.deepEqual(loaded.database.forPackage('numpy'), []);
  const ghsa = loaded.database.forPackage('demo-pkg').find((a) => a.advisory.id === 'GHSA-demo-0002')!;
  t.deepEqual(ghsa.advisory, { id: 'GHSA-demo-0002', aliases: ['CVE-2099-0002'], summary: 'demo-pkg leaks memory on crafted archives', severity: 'HIGH' });
  const pysec = loaded.database.forPackage('demo-pkg').find((a) => a.advisory.id === 'PYSEC-2099-1')!;
  t.is(pysec.advisory.severity, 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'without a database severity, the CVSS vector');
  t.deepEqual(pysec.fixed, ['1.2.0', '2.0.3']);
  t.is(loaded.database.forPackage('demo-pkg').find((a) => a.advisory.id === 'PYSEC-2099-3')!.advisory.summary, 'A listed set of demo-pkg releases ships a debug endpoint.', 'no summary: the first line of details');
});

test('ranges with introduced and fixed, last_affected, explicit versions and non-PEP 440 versions match as OSV says', async (t) => {
  const { database } = await loadAdvisories(FIXTURES);
  const at = (version: string) => ids(database.affecting('demo-pkg', version));
  t.deepEqual(at('0.1'), ['PYSEC-2099-1'], 'introduced "0": every version below the fix');
  t.deepEqual(at('1.0rc1'), ['PYSEC-2099-1'], 'a pre-release of 1.0 comes before 1.0');
  t.deepEqual(at('1.1'), ['GHSA-demo-0002', 'PYSEC-2099-1']);
  t.deepEqual(at('1.2.0'), ['GHSA-demo-0002'], 'fixed is not affected');
  t.deepEqual(at('1.3'), ['PYSEC-2099-3'], '1.3 is 1.3.0 in PEP 440, which the versions list names');
  t.deepEqual(at('1.3.1'), ['PYSEC-2099-3']);
  t.deepEqual(at('1.4'), []);
  t.deepEqual(at('1.5'), ['GHSA-demo-0004'], 'introduced is affected');
  t.deepEqual(at('1.9.9'), ['GHSA-demo-0004'], 'last_affected is affected');
  t.deepEqual(at('1.9.10'), [], 'past last_affected is not');
  t.deepEqual(at('2.0'), ['PYSEC-2099-1'], 'the second range, its events given out of order');
  t.deepEqual(at('2.0.3'), []);
  t.deepEqual(at('2024.local-build'), ['PYSEC-2099-3'], 'a version PEP 440 cannot read matches an explicit entry exactly');
  t.deepEqual(at('2024.local-buildX'), [], 'and nothing else');
  t.deepEqual(ids(database.affecting('other-lib', '0.9')), ['GHSA-demo-0005']);
  t.deepEqual(ids(database.affecting('other-lib', '0.9.1')), []);
});

test('the security target is the lowest fixed version above the installed one that no advisory affects', async (t) => {
  const { database } = await loadAdvisories(FIXTURES);
  // 1.1: PYSEC-2099-1 fixed in 1.2.0, but GHSA-demo-0002 affects 1.2.0; its fix 1.3.0 is listed by PYSEC-2099-3; 2.0.3 clears all.
  t.deepEqual(database.securityTarget('demo-pkg', '1.1'), { advisories: ['GHSA-demo-0002', 'PYSEC-2099-1'], version: '2.0.3' });
  t.deepEqual(database.securityTarget('demo-pkg', '1.1', (a) => a.id === 'PYSEC-2099-3'), { advisories: ['GHSA-demo-0002', 'PYSEC-2099-1'], version: '1.3.0' }, 'an ignored advisory does not stand in the way');
  t.deepEqual(database.securityTarget('demo-pkg', '0.5'), { advisories: ['PYSEC-2099-1'], version: '2.0.3' });
  t.deepEqual(database.securityTarget('demo-pkg', '1.6'), { advisories: ['GHSA-demo-0004'], version: '2.0.3' }, 'last_affected gives no fix; a later fixed version does');
  t.deepEqual(database.securityTarget('demo-pkg', '2.0.1'), { advisories: ['PYSEC-2099-1'], version: '2.0.3' });
  t.deepEqual(database.securityTarget('demo-pkg', '2.1'), { advisories: [] }, 'nothing to clear');
  t.deepEqual(database.securityTarget('demo-pkg', '2024.local-build'), { advisories: ['PYSEC-2099-3'] }, 'not PEP 440: what is above it is unknown');
  t.deepEqual(database.securityTarget('other-lib', '0.9'), { advisories: ['GHSA-demo-0005'] }, 'no fixed version known');
  t.deepEqual(database.securityTarget('numpy', '1.0'), { advisories: [] });
});

test('an advisory whose fixed versions are all still affected by another has no security target', (t) => {
  const parse = (doc: unknown) => {
    const parsed = parseOsvAdvisory(doc);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.packages;
  };
  const a = parse({ id: 'A-1', affected: [{ package: { ecosystem: 'PyPI', name: 'x' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }] }] });
  const b = parse({ id: 'B-1', affected: [{ package: { ecosystem: 'PyPI', name: 'x' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.5' }] }] }] });
  t.true(affects(b[0]!, '99'), 'introduced without an end: every later version');
  t.false(affects(b[0]!, '1.4'));
  t.deepEqual(securityTargetOf([...a, ...b], '1.0'), { advisories: ['A-1'] }, '2.0 fixes A-1 but B-1 affects it');
  t.deepEqual(securityTargetOf(a, '1.0'), { advisories: ['A-1'], version: '2.0' });
  t.deepEqual(securityTargetOf([...a, ...b], '1.6'), { advisories: ['A-1', 'B-1'] });
});

test('wrong shapes are refused with the reason, and odd but valid documents are read', (t) => {
  const reason = (doc: unknown) => {
    const parsed = parseOsvAdvisory(doc);
    return parsed.ok ? 'ok' : parsed.reason;
  };
  t.is(reason([]), 'not a JSON object');
  t.is(reason({ id: '../../etc/passwd' }), 'no valid "id"');
  t.is(reason({ id: 'X-1', aliases: 'CVE-1' }), '"aliases" is not a list of strings');
  t.is(reason({ id: 'X-1', affected: {} }), '"affected" is not a list');
  t.is(reason({ id: 'X-1', affected: ['x'] }), 'an "affected" entry is not an object');
  t.is(reason({ id: 'X-1', affected: [{ package: { ecosystem: 'PyPI', name: 'a' }, versions: [1] }] }), '"versions" of a is not a list of strings');
  t.is(reason({ id: 'X-1', affected: [{ package: { ecosystem: 'PyPI', name: 'a' }, ranges: [{ type: 'ECOSYSTEM', events: [{ fixed: 2 }] }] }] }), '"fixed" of a is not a string');
  t.is(reason({ id: 'X-1', affected: [{ package: { ecosystem: 'PyPI' } }] }), 'a PyPI "affected" entry has no valid package name');
  // Other ecosystems are not looked into; no affected at all is an advisory without packages.
  t.is(reason({ id: 'X-1', affected: [{ package: { ecosystem: 'Go', name: 'x' }, ranges: 'whatever' }] }), 'ok');
  t.is(reason({ id: 'X-1' }), 'ok');
});

test('a zip of the same files gives the same database; oversized, non-JSON and outside-looking entry names are handled as labels only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-osv-zip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const zip = join(dir, 'all.zip');
  writeFileSync(zip, zipOf(FIXTURES, {
    '../../escape/PYSEC-2099-8.json': strToU8(JSON.stringify({ id: 'PYSEC-2099-8', affected: [{ package: { ecosystem: 'PyPI', name: 'zipped' }, versions: ['1.0'] }] })),
    'huge.json': new Uint8Array(64 * 1024).fill(32),
  }));
  const loaded = await loadAdvisories(zip, { ...DEFAULT_ADVISORY_LIMITS, fileBytes: 32 * 1024 });
  t.is(loaded.source, 'zip');
  const folder = await loadAdvisories(FIXTURES);
  t.deepEqual(ids(loaded.database.forPackage('demo-pkg')), ids(folder.database.forPackage('demo-pkg')));
  t.deepEqual(loaded.database.securityTarget('demo-pkg', '1.1'), folder.database.securityTarget('demo-pkg', '1.1'));
  t.deepEqual(ids(loaded.database.affecting('zipped', '1.0')), ['PYSEC-2099-8'], 'an entry name is a label: nothing is written anywhere');
  t.deepEqual(loaded.skipped.map((s) => s.file).sort(), ['broken.json', 'huge.json', 'wrong-shape.json']);
  t.regex(loaded.skipped.find((s) => s.file === 'huge.json')!.reason, /larger than 32768 bytes/);
  t.false(readdirSync(dir).some((f) => f !== 'all.zip'), 'nothing was unpacked to disk');

  // Limits on the whole zip, and a file that is not a zip, fail the load (a feed then keeps what it had).
  await t.throwsAsync(loadAdvisories(zip, { ...DEFAULT_ADVISORY_LIMITS, zipBytes: 100 }), { instanceOf: AdvisoryLoadError, message: /larger than 100 bytes/ });
  await t.throwsAsync(loadAdvisories(zip, { ...DEFAULT_ADVISORY_LIMITS, inflatedBytes: 1000 }), { instanceOf: AdvisoryLoadError, message: /inflates to more than 1000 bytes/ });
  writeFileSync(join(dir, 'bad.zip'), 'not a zip at all');
  await t.throwsAsync(loadAdvisories(join(dir, 'bad.zip')), { instanceOf: AdvisoryLoadError, message: /cannot be read/ });
  await t.throwsAsync(loadAdvisories(join(dir, 'missing')), { instanceOf: AdvisoryLoadError, message: /does not exist/ });
});

test('a zip entry that understates its size (a zip bomb) is inflated no further than it says, and skipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-osv-bomb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 50 MiB of spaces after a "{" deflate to about 50 KiB; the central directory is then made to say 100 bytes.
  const bomb = new Uint8Array(50 * 1024 * 1024).fill(32);
  bomb[0] = 0x7b;
  const zip = zipSync({ 'bomb.json': bomb, 'PYSEC-2099-12.json': strToU8(JSON.stringify({ id: 'PYSEC-2099-12', affected: [{ package: { ecosystem: 'PyPI', name: 'after-bomb' }, versions: ['1'] }] })) });
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let patched = 0;
  for (let i = 0; i + 46 < zip.length; i++) {
    if (view.getUint32(i, true) !== 0x02014b50) continue;
    const name = Buffer.from(zip.subarray(i + 46, i + 46 + view.getUint16(i + 28, true))).toString();
    if (name === 'bomb.json') {
      view.setUint32(i + 24, 100, true);
      patched++;
    }
  }
  t.is(patched, 1, 'the central directory entry was found');
  writeFileSync(join(dir, 'all.zip'), zip);
  const before = process.memoryUsage().arrayBuffers;
  const loaded = await loadAdvisories(join(dir, 'all.zip'));
  t.true(process.memoryUsage().arrayBuffers - before < 40 * 1024 * 1024, 'the 50 MiB were never inflated');
  t.is(bomb[0], 0x7b, 'the source stays alive, so that its memory being freed cannot hide an inflation');
  t.deepEqual(loaded.skipped, [{ file: 'bomb.json', reason: 'not valid JSON' }]);
  t.is(loaded.database.affecting('after-bomb', '1').length, 1);
});

test('a folder database: files over the size limit and symbolic links are skipped, never followed', async (t) => {
  const dir = tempCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const outside = mkdtempSync(join(tmpdir(), 'procenv-osv-outside-'));
  t.teardown(() => rmSync(outside, { recursive: true, force: true }));
  writeFileSync(join(outside, 'PYSEC-2099-9.json'), JSON.stringify({ id: 'PYSEC-2099-9', affected: [{ package: { ecosystem: 'PyPI', name: 'linked' }, versions: ['1'] }] }));
  symlinkSync(join(outside, 'PYSEC-2099-9.json'), join(dir, 'PYSEC-2099-9.json'));
  symlinkSync(outside, join(dir, 'linked-folder'));
  writeFileSync(join(dir, 'big.json'), ' '.repeat(5000));
  const loaded = await loadAdvisories(dir, { ...DEFAULT_ADVISORY_LIMITS, fileBytes: 4000 });
  t.deepEqual(loaded.database.forPackage('linked'), []);
  t.deepEqual(loaded.skipped.map((s) => s.file).sort(), ['PYSEC-2099-9.json', 'big.json', 'broken.json', 'wrong-shape.json']);
  t.true(statSync(dir).isDirectory());
});

test.serial('the feed loads at start, reloads when a file is added or changed, and keeps the last good database when a reload fails', async (t) => {
  const dir = tempCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const feed = new AdvisoryFeed({ path: dir, log: silent, debounceMs: 100 });
  t.teardown(() => feed.stop());
  feed.start();
  await feed.ready();
  t.like(feed.describe(), { configured: true, source: 'folder', loading: false, advisories: 5, skippedCount: 2 });
  const firstLoadedAt = (feed.describe() as { loadedAt: number }).loadedAt;

  writeFileSync(join(dir, 'nested', 'PYSEC-2099-10.json'), JSON.stringify({ id: 'PYSEC-2099-10', affected: [{ package: { ecosystem: 'PyPI', name: 'numpy' }, versions: ['1.24.4'] }] }));
  await waitUntil('the added file is loaded', async () => feed.current()!.affecting('numpy', '1.24.4').length === 1);
  t.like(feed.describe(), { advisories: 6 });
  t.true((feed.describe() as { loadedAt: number }).loadedAt >= firstLoadedAt);

  // A changed file: the broken one repaired.
  writeFileSync(join(dir, 'broken.json'), JSON.stringify({ id: 'PYSEC-2099-7', affected: [{ package: { ecosystem: 'PyPI', name: 'numpy' }, versions: ['1.24.5'] }] }));
  await waitUntil('the changed file is loaded', async () => feed.current()!.affecting('numpy', '1.24.5').length === 1);
  t.like(feed.describe(), { advisories: 7, skippedCount: 1 });

  // The folder moved away: the reload fails, the database before it stays, and the state says why.
  renameSync(dir, `${dir}-gone`);
  t.teardown(() => rmSync(`${dir}-gone`, { recursive: true, force: true }));
  await waitUntil('the failed reload is reported', async () => (feed.describe() as { lastError?: unknown }).lastError !== undefined);
  t.is(feed.current()!.affecting('numpy', '1.24.5').length, 1, 'the previous database is kept');
  t.like(feed.describe(), { advisories: 7, lastError: { message: 'the advisory database does not exist' } });
});

test.serial('a zip database is reloaded when the zip is replaced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-osv-feed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const zip = join(dir, 'all.zip');
  writeFileSync(zip, zipOf(FIXTURES));
  const feed = new AdvisoryFeed({ path: zip, log: silent, debounceMs: 100 });
  t.teardown(() => feed.stop());
  feed.start();
  await feed.ready();
  t.like(feed.describe(), { configured: true, source: 'zip', name: 'all.zip', advisories: 5 });
  // Replaced the way a download script does it: written beside, then renamed over.
  writeFileSync(join(dir, 'all.zip.tmp'), zipOf(FIXTURES, { 'PYSEC-2099-11.json': strToU8(JSON.stringify({ id: 'PYSEC-2099-11', affected: [{ package: { ecosystem: 'PyPI', name: 'requests' }, versions: ['2.28.1'] }] })) }));
  renameSync(join(dir, 'all.zip.tmp'), zip);
  await waitUntil('the new zip is loaded', async () => feed.current()!.affecting('requests', '2.28.1').length === 1);
  t.like(feed.describe(), { advisories: 6 });
  // A broken zip in its place: the reload fails, the database stays.
  writeFileSync(zip, 'truncated');
  await waitUntil('the failed reload is reported', async () => (feed.describe() as { lastError?: unknown }).lastError !== undefined);
  t.like(feed.describe(), { advisories: 6 });
  t.is(feed.current()!.affecting('requests', '2.28.1').length, 1);
});

test('a database that does not exist at start answers a state with the reason and no advisories, and never throws', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-osv-none-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const feed = new AdvisoryFeed({ path: join(dir, 'osv'), log: silent, debounceMs: 50 });
  t.teardown(() => feed.stop());
  feed.start();
  await feed.ready();
  t.is(feed.current(), undefined);
  t.like(feed.describe(), { configured: true, loading: false, advisories: 0, lastError: { message: 'the advisory database does not exist' } });
  // Made afterwards: the parent folder is watched, so it is found.
  cpSync(FIXTURES, join(dir, 'osv'), { recursive: true });
  await waitUntil('the folder made later is loaded', async () => feed.current()?.size === 5);
  t.pass();
});
