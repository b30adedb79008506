import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { loadConfig } from '../../src/config/load.ts';
import type { ConfigKey } from '../../src/config/schema.ts';
import { normaliseProjectName, projectOfFile } from '../../src/managers/pip/pip-index.ts';
import { PipManager } from '../../src/managers/pip/pip-manager.ts';
import { cleanPipEnv } from '../helpers/pip-env.ts';
import { buildWheel, startIndexServer, startSilentServer } from '../helpers/wheels.ts';

let root: string;
let wheels: string;
let extraWheels: string;

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'procenv-pip-index-'));
  wheels = join(root, 'wheels');
  extraWheels = join(root, 'extra');
  await mkdir(wheels);
  await mkdir(extraWheels);
  await buildWheel(wheels, 'Demo.Pkg', '1.0');
  await buildWheel(extraWheels, 'only-extra', '3.1');
  // An old-style sdist keeps dashes in its file name.
  await writeFile(join(wheels, 'old-style-name-0.1.tar.gz'), 'not really an archive');
});

test.after.always(() => rm(root, { recursive: true, force: true }));

function manager(overrides: Partial<Record<ConfigKey, unknown>>): PipManager {
  return PipManager.fromConfig(loadConfig({ env: {}, overrides }), cleanPipEnv());
}

test('PEP 503 normalisation and project names of distribution files', (t) => {
  t.is(normaliseProjectName('Demo__Pkg.-x'), 'demo-pkg-x');
  t.is(projectOfFile('Demo_Pkg-1.0-py3-none-any.whl'), 'demo-pkg');
  t.is(projectOfFile('old-style-name-0.1.tar.gz'), 'old-style-name');
  t.is(projectOfFile('pkg-v2.zip'), 'pkg');
  t.is(projectOfFile('README.txt'), undefined);
});

test('find-links folder: a wheel or sdist under any spelling of the name is found, extras stripped', async (t) => {
  const pip = manager({ 'pip.findLinks': [wheels], 'pip.noIndex': true });
  t.true(await pip.packageExists('demo-pkg'));
  t.true(await pip.packageExists('DEMO_pkg[extra1,extra2]'));
  t.true(await pip.packageExists('old_style.name'));
  t.false(await pip.packageExists('absent-pkg'));
  t.false(await pip.packageExists('demo'), 'a prefix of a name is not the name');
});

test('find-links as a file: URL and as an HTML page of links', async (t) => {
  const index = await startIndexServer(wheels);
  t.teardown(() => index.close());
  const fileUrl = manager({ 'pip.findLinks': [pathToFileURL(wheels).href], 'pip.noIndex': true });
  t.true(await fileUrl.packageExists('demo-pkg'));
  t.false(await fileUrl.packageExists('absent-pkg'));
  const page = manager({ 'pip.findLinks': [`${index.url}/demo-pkg/`], 'pip.noIndex': true });
  t.true(await page.packageExists('Demo.Pkg'));
  t.false(await page.packageExists('other'));
});

test('index URL: GET <index>/<normalised name>/ answers 200 → true, 404 → false', async (t) => {
  const index = await startIndexServer(wheels);
  t.teardown(() => index.close());
  const pip = manager({ 'pip.indexUrl': index.url });
  t.true(await pip.packageExists('Demo_Pkg[fast]'));
  t.false(await pip.packageExists('absent-pkg'));
  t.deepEqual(index.requests, ['/simple/demo-pkg/', '/simple/absent-pkg/']);
});

test('an extra index URL is asked too: true when any source has the package', async (t) => {
  const main = await startIndexServer(wheels);
  const extra = await startIndexServer(extraWheels);
  t.teardown(() => Promise.all([main.close(), extra.close()]).then(() => undefined));
  const pip = manager({ 'pip.indexUrl': main.url, 'pip.extraIndexUrls': [extra.url] });
  t.true(await pip.packageExists('only-extra'));
  t.true(await pip.packageExists('demo-pkg'));
  t.false(await pip.packageExists('in-neither'));
  t.true(main.requests.includes('/simple/only-extra/'));
});

test('a file: index URL (a simple index on disk) has one folder per project', async (t) => {
  const simple = join(root, 'simple');
  await mkdir(join(simple, 'demo-pkg'), { recursive: true });
  const pip = manager({ 'pip.indexUrl': pathToFileURL(simple).href });
  t.true(await pip.packageExists('Demo.Pkg'));
  t.false(await pip.packageExists('absent-pkg'));
});

test('undefined when no index and no find-links are configured', async (t) => {
  t.is(await manager({}).packageExists('demo-pkg'), undefined);
});

test('with --no-index the index URLs are not asked: only find-links count', async (t) => {
  const index = await startIndexServer(wheels);
  t.teardown(() => index.close());
  t.is(await manager({ 'pip.indexUrl': index.url, 'pip.noIndex': true }).packageExists('demo-pkg'), undefined);
  t.deepEqual(index.requests, []);
});

test('undefined when a source that could have the package does not answer; true when another has it', async (t) => {
  const gone = await startIndexServer(wheels);
  const goneUrl = gone.url;
  await gone.close();
  t.is(await manager({ 'pip.indexUrl': goneUrl }).packageExists('demo-pkg'), undefined);
  t.is(await manager({ 'pip.findLinks': [join(root, 'no-such-folder')], 'pip.noIndex': true }).packageExists('demo-pkg'), undefined);
  t.is(await manager({ 'pip.indexUrl': goneUrl, 'pip.findLinks': [wheels] }).packageExists('absent-pkg'), undefined);
  t.true(await manager({ 'pip.indexUrl': goneUrl, 'pip.findLinks': [wheels] }).packageExists('demo-pkg'));
});

test('an index that hangs gives undefined within the lookup timeout', async (t) => {
  const silent = await startSilentServer();
  t.teardown(() => silent.close());
  const started = Date.now();
  t.is(await manager({ 'pip.indexUrl': silent.url }).packageExists('demo-pkg', { timeoutMs: 300 }), undefined);
  t.true(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  t.is(silent.connections, 1, 'one request, no retry');
});
