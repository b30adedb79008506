import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { generationHash, type GenerationPackage } from '../../src/domain/generations.ts';
import { exactCommands, exactResult, formatCommands, orphansOf } from '../../src/domain/plans.ts';
import type { ManagerError } from '../../src/managers/errors.ts';
import { afterInstall, parseDependencies, parseInstallReport } from '../../src/managers/pip/pip-plan.ts';
import { pinOfFile, WheelCache } from '../../src/managers/pip/wheel-cache.ts';

const pkg = (name: string, version: string, requested?: boolean): GenerationPackage => ({ name, version, ...(requested === undefined ? {} : { requested }) });

test('exactCommands pins what differs or is missing, removes what the target lacks (never pip), installs before removals', (t) => {
  const current = [pkg('pip', '23.2.1'), pkg('App', '2.0', true), pkg('dep', '2.0', false), pkg('extra', '0.1', true), pkg('same', '1.0')];
  const target = [pkg('app', '1.0', true), pkg('dep', '1.0', false), pkg('new_one', '3.0', false), pkg('same', '1.0')];
  t.deepEqual(formatCommands(exactCommands('pip', current, target)), [
    'upgradePackage/app/1.0/', 'upgradePackage/dep/1.0/', 'addPackage/new_one/3.0/', 'removePackage/extra/',
  ]);
  t.deepEqual(exactCommands('pip', target, target), [], 'the same set needs nothing');
  // The result keeps pip when the target has none, and its hash says so.
  const result = exactResult('pip', current, target);
  t.deepEqual(result.packages.map((p) => p.name).sort(), ['app', 'dep', 'new_one', 'pip', 'same']);
  t.is(result.hash, generationHash('pip', [...target, pkg('pip', '23.2.1')]));
  // conda compares builds too, and removes whatever the target lacks.
  const conda = exactCommands('conda', [{ name: 'numpy', version: '1.26.4', build: 'py311_0' }, { name: 'pip', version: '24.0' }], [{ name: 'numpy', version: '1.26.4', build: 'py311_1' }]);
  t.deepEqual(formatCommands(conda), ['upgradePackage/numpy/1.26.4/', 'removePackage/pip/']);
});

test('orphansOf names the dependencies nothing left would need, and not those another root still needs', (t) => {
  const requires = new Map<string, string[]>([
    ['app', ['dep', 'shared']], ['dep', ['deep']], ['other', ['shared']], ['deep', []], ['shared', []],
  ]);
  const after = [pkg('dep', '1', false), pkg('deep', '1', false), pkg('shared', '1', false), pkg('other', '1', true), pkg('loose', '1', false)];
  t.deepEqual(orphansOf('pip', after, [pkg('app', '1', true)], requires).map((p) => p.name), ['deep', 'dep'],
    'shared is still needed by other; loose was an orphan before and is not this removal\'s');
  // A dependency that was asked for itself is never an orphan.
  t.deepEqual(orphansOf('pip', [pkg('dep', '1', true), pkg('deep', '1', false)], [pkg('app', '1')], requires).map((p) => p.name), []);
});

test('pip\'s installation report is read into name, version and requested; anything else is UNEXPECTED_OUTPUT', (t) => {
  const report = JSON.stringify({
    version: '1', install: [
      { metadata: { name: 'App', version: '2.0' }, requested: true, is_direct: false },
      { metadata: { name: 'dep', version: '2.0' }, requested: false },
    ],
  });
  const parsed = parseInstallReport(report);
  t.deepEqual(parsed, [{ name: 'App', version: '2.0', requested: true }, { name: 'dep', version: '2.0', requested: false }]);
  t.deepEqual(afterInstall([pkg('app', '1.0', true), pkg('dep', '1.0', false), pkg('keep', '1')], parsed), [
    pkg('App', '2.0', true), pkg('dep', '2.0', false), pkg('keep', '1'),
  ]);
  for (const bad of ['', 'not json', '{}', '{"install":[{"metadata":{}}]}']) {
    t.is(t.throws<ManagerError>(() => parseInstallReport(bad))?.code, 'UNEXPECTED_OUTPUT', bad);
  }
  t.deepEqual([...parseDependencies('{"a":["b"],"b":[],"c":"x"}')], [['a', ['b']], ['b', []]]);
  t.is(t.throws<ManagerError>(() => parseDependencies('[]'))?.code, 'UNEXPECTED_OUTPUT');
});

test('the wheel cache knows its files by name and version, adopts downloads once, and evicts those used longest ago', (t) => {
  t.is(pinOfFile('Pl_App-1.0-py3-none-any.whl'), 'pl-app==1.0');
  t.is(pinOfFile('old-name-2.0.tar.gz'), 'old-name==2.0');
  t.is(pinOfFile('README.txt'), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'procenv-wheel-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cache = new WheelCache(dir, 250);
  const download = (files: Record<string, number>) => {
    const staging = cache.stagingFolder();
    for (const [f, size] of Object.entries(files)) writeFileSync(join(staging, f), Buffer.alloc(size));
    return cache.adopt(staging);
  };
  t.is(download({ 'a-1.0-py3-none-any.whl': 100, 'b-1.0-py3-none-any.whl': 100, 'notes.txt': 5 }), 2);
  t.true(cache.has({ name: 'A', version: '1.0' }));
  t.deepEqual(cache.missing([{ name: 'a', version: '1.0' }, { name: 'a', version: '2.0' }]), [{ name: 'a', version: '2.0' }]);
  t.is(download({ 'a-1.0-py3-none-any.whl': 100 }), 0, 'a file the cache holds is not taken twice');
  // b was used more lately than a, so a goes when c takes the cache over its bound.
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(dir, 'a-1.0-py3-none-any.whl'), past, past);
  utimesSync(join(dir, 'b-1.0-py3-none-any.whl'), past, past);
  cache.touch([{ name: 'b', version: '1.0' }]);
  t.is(download({ 'c-1.0-py3-none-any.whl': 100 }), 1);
  t.deepEqual(readdirSync(dir).sort(), ['b-1.0-py3-none-any.whl', 'c-1.0-py3-none-any.whl'], 'no staging folder is left behind');
  t.is(cache.bytes(), 200);
  // A new process reads the folder again.
  t.true(new WheelCache(dir, 250).has({ name: 'c', version: '1.0' }));
});
