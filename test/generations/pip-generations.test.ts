import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { generationHash, packagesOf, type Generation, type GenerationDiff, type GenerationSummary } from '../../src/domain/generations.ts';
import { PipManager } from '../../src/managers/pip/pip-manager.ts';
import { waitUntil } from '../helpers/cluster.ts';
import { cleanPipEnv, createTemplateVenv, installedPackages, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService, type PipService } from '../helpers/pip-service.ts';
import { startTestService } from '../helpers/service.ts';

const run = promisify(execFile);

// Real pip in real venvs, local wheels with dependencies: gen-app pins its gen-dep, so upgrading the app upgrades
// the dependency with it.
let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

const WHEELS = [
  ['gen-app', '1.0', ['gen-dep==1.0']], ['gen-app', '2.0', ['gen-dep==2.0']], ['gen-dep', '1.0'], ['gen-dep', '2.0'],
] as const;

const generationsOf = async (svc: PipService, query: Record<string, string> = {}) =>
  (await svc.get(`processors/${PIP_PROCESSOR}/generations`, query)).body as GenerationSummary[];

/** The hash of a venv's package set, taken as procenv takes it: pip's own report through the same manager and rules. */
async function venvHash(folder: string, wheels: string): Promise<string> {
  const pip = new PipManager({ python: 'python3', venvDir: '.venv', indexUrl: '', extraIndexUrls: [], findLinks: [wheels], noIndex: true, env: cleanPipEnv() });
  const info = await pip.snapshot({ processor: { processorId: 'fresh', name: 'fresh', type: 'python_pip_2', userId: 'x', isPublic: false }, folder });
  return generationHash('pip', packagesOf('pip', info));
}

test.serial('each change records a generation with its packages and who made it; the diff shows the dependency upgraded with the app; the export rebuilds the same hash', async (t) => {
  t.timeout(120_000);
  const svc = await startPipService(template, WHEELS);
  t.teardown(() => svc.close());
  // The sample's packagesInfo.json is what procenv first sees of the processor.
  const [first] = await waitUntil('the first generation', async () => (await generationsOf(svc)).length === 1 && generationsOf(svc));
  t.like(first, { number: 1, cause: 'first-seen', manager: { kind: 'pip', version: '22.0.2' } });
  t.is(first!.operationId, undefined);

  const add = await svc.waitFor(await svc.update('addPackage/gen-app/1.0/'));
  t.is(add.status, 'DONE', JSON.stringify(add.error));
  const upgrade = await svc.waitFor(await svc.update('upgradePackage/gen-app/'));
  t.is(upgrade.status, 'DONE', JSON.stringify(upgrade.error));
  const refresh = await svc.waitFor(await svc.update());
  t.is(refresh.status, 'DONE');

  const list = await generationsOf(svc);
  t.deepEqual(list.map((g) => [g.number, g.cause, g.operationId]), [[3, 'operation', upgrade.processObjId], [2, 'operation', add.processObjId], [1, 'first-seen', undefined]],
    'a refresh that finds the same packages records nothing');
  const installed = await installedPackages(svc.venv);
  t.like(list[0], { userId: 'demo', manager: { kind: 'pip', version: installed.pip }, packageCount: Object.keys(installed).length });
  const log = (await svc.get(`operations/${refresh.processObjId}/log`)).body as { line: string }[];
  t.true(log.some((l) => l.line === 'package set unchanged: still generation 3'));

  const manifest = (await svc.get(`processors/${PIP_PROCESSOR}/generations/2`)).body as Generation;
  t.is(manifest.hash, list[1]!.hash);
  t.deepEqual(manifest.packages.filter((p) => p.name.startsWith('gen-')), [
    { name: 'gen-app', version: '1.0', requested: true }, { name: 'gen-dep', version: '1.0', requested: false },
  ]);
  t.deepEqual(manifest.packages.map((p) => p.name).sort(), Object.keys(installed).sort(), 'the whole venv, pip included');

  const diff = (await svc.get(`processors/${PIP_PROCESSOR}/generations/diff`, { from: '2', to: '3' })).body as GenerationDiff;
  t.deepEqual(diff, {
    from: 2, to: 3, fromHash: list[1]!.hash, toHash: list[0]!.hash, added: [], removed: [], downgraded: [], changed: [],
    upgraded: [{ name: 'gen-app', from: '1.0', to: '2.0', requested: true }, { name: 'gen-dep', from: '1.0', to: '2.0', requested: false }],
  });

  // Generation 2 exported and installed into a fresh venv: the same package set, so the same hash.
  const exported = await svc.http.get(`processors/${PIP_PROCESSOR}/generations/2/export`, { headers: { 'x-session-token': svc.token }, searchParams: { format: 'requirements' } });
  t.is(exported.statusCode, 200);
  t.regex(exported.headers['content-type'] ?? '', /^text\/plain/);
  t.is(exported.headers['content-disposition'], `attachment; filename="${PIP_PROCESSOR}-generation-2-requirements.txt"`);
  t.true(exported.body.split('\n').includes('gen-dep==1.0  # dependency'), exported.body);
  const fresh = mkdtempSync(join(tmpdir(), 'procenv-fresh-'));
  t.teardown(() => rmSync(fresh, { recursive: true, force: true }));
  await template.copyTo(join(fresh, '.venv'));
  writeFileSync(join(fresh, 'requirements.txt'), exported.body);
  await run(join(fresh, '.venv', 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-index', '--find-links', svc.wheels, '-r', join(fresh, 'requirements.txt')], { env: cleanPipEnv() });
  t.is(await venvHash(fresh, svc.wheels), manifest.hash);
});

test.serial('a packagesInfo.json changed by another hand records a generation seen on disk; the same set in another form records none', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const get = async (path: string) => {
    const res = await svc.http.get(path, { headers: { 'x-session-token': token } });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  const list = async () => (await get(`processors/${PIP_PROCESSOR}/generations`)).body as GenerationSummary[];
  await waitUntil('the first generation', async () => (await list()).length === 1);
  const file = join(svc.catalog.folderOf(PIP_PROCESSOR), 'packagesInfo.json');
  const info = JSON.parse(readFileSync(file, 'utf8'));
  info.outdated.find((p: { packageName: string }) => p.packageName === 'numpy').currentVersion = '2.0.2';
  writeFileSync(file, JSON.stringify(info));
  const [second] = await waitUntil('a generation seen on disk', async () => {
    const l = await list();
    return l.length === 2 && l;
  });
  t.like(second, { number: 2, cause: 'disk', manager: { kind: 'pip', version: '22.0.2' } });
  t.is(second!.operationId, undefined);
  t.is(second!.userId, undefined);
  const diff = (await get(`processors/${PIP_PROCESSOR}/generations/diff?from=1&to=2`)).body as GenerationDiff;
  t.deepEqual(diff.upgraded, [{ name: 'numpy', from: '1.24.4', to: '2.0.2' }], 'the file does not say what was asked for');
  const events = (await svc.store.readEvents(0, 1000)).filter((e) => e.processor === PIP_PROCESSOR && ['generation.recorded', 'packages.changed'].includes(e.type));
  // The first generation records no change, so it has no event; the one seen on disk follows its packages.changed.
  t.deepEqual(events.map((e) => [e.type, (e.generation as GenerationSummary | undefined)?.number]), [['packages.changed', undefined], ['generation.recorded', 2]]);

  // The same packages in WASDI's one-shot form (fields left out, sections in another order): no new generation.
  const oneShot = { uptodate: info.uptodate.map((p: Record<string, unknown>) => ({ packageName: p.packageName, currentVersion: p.currentVersion })), outdated: info.outdated, packageManager: info.packageManager };
  writeFileSync(file, JSON.stringify(oneShot, null, 2));
  await waitUntil('the rewrite seen', async () => (await svc.store.readEvents(0, 1000)).filter((e) => e.type === 'packages.changed').length === 2);
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual((await list()).map((g) => g.number), [2, 1]);
});

test.serial('generations answer 400 for malformed numbers and parameters, 404 for a generation that does not exist, 403 without read permission', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const [owner, stranger] = [await svc.login('demo'), await svc.login('stranger')];
  const get = async (path: string, token: string | null = owner) => {
    const res = await svc.http.get(path, { headers: token === null ? {} : { 'x-session-token': token } });
    return { status: res.statusCode, code: res.statusCode === 200 ? undefined : (JSON.parse(res.body) as { error: { code: string } }).error.code };
  };
  const base = `processors/${PIP_PROCESSOR}/generations`;
  await waitUntil('the first generation', async () => (await get(`${base}/1`)).status === 200);
  const cases: [string, number, string | undefined, (string | null)?][] = [
    [`${base}?limit=1&offset=0`, 200, undefined],
    [`${base}/2`, 404, 'GENERATION_NOT_FOUND'],
    [`${base}/0`, 400, 'INVALID_GENERATION_NUMBER'],
    [`${base}/x1`, 400, 'INVALID_GENERATION_NUMBER'],
    [`${base}/1.5/export`, 400, 'INVALID_GENERATION_NUMBER'],
    [`${base}?limit=0`, 400, 'INVALID_PARAMETER'],
    [`${base}?offset=-1`, 400, 'INVALID_PARAMETER'],
    [`${base}/diff?from=1`, 400, 'MISSING_PARAMETER'],
    [`${base}/diff?from=1&to=abc`, 400, 'INVALID_GENERATION_NUMBER'],
    [`${base}/diff?from=1&to=1&to=1`, 400, 'REPEATED_PARAMETER'],
    [`${base}/diff?from=1&to=7`, 404, 'GENERATION_NOT_FOUND'],
    [`${base}/diff?from=1&to=1`, 200, undefined],
    [`${base}/1/export?format=environment`, 400, 'EXPORT_FORMAT_UNSUPPORTED'],
    [`${base}/1/export?format=pdf`, 400, 'INVALID_PARAMETER'],
    [`${base}/1/export`, 200, undefined],
    ['processors/sample_oneshot/generations', 403, 'PROCESSOR_NOT_ACCESSIBLE', stranger],
    ['processors/sample_oneshot/generations/1', 403, 'PROCESSOR_NOT_ACCESSIBLE', stranger],
    ['processors/no_such_processor/generations', 403, 'PROCESSOR_NOT_ACCESSIBLE'],
    ['processors/bad%20name/generations', 400, 'INVALID_PROCESSOR_NAME'],
    [base, 401, 'UNAUTHENTICATED', null],
  ];
  for (const [path, status, code, token] of cases) {
    t.deepEqual(await get(path, token === undefined ? owner : token), { status, code }, path);
  }
  // A public processor is readable by anyone signed in, as its package list is.
  t.is((await get(`${base}/1`, stranger)).status, 200);
});
