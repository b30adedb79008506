import test from 'ava';
import { InvalidInputError } from '../../src/domain/errors.ts';
import {
  MAX_COMMAND_LENGTH, formatUpdateCommand, isValidPackageName, isValidVersion, parseUpdateCommand, type UpdateCommand,
} from '../../src/domain/update-command.ts';

// WASDI's updateCommand grammar (reference §4): action "/" package [ "/" version ] [ "/" ], with procenv's stricter
// validation: a whitelist of actions, names and versions checked for syntax, nothing a manager could read as an
// option, a URL or a path.

const valid: [string, 'pip' | 'conda', UpdateCommand][] = [
  ['addPackage/numpy/', 'pip', { action: 'addPackage', name: 'numpy' }],
  ['addPackage/numpy', 'pip', { action: 'addPackage', name: 'numpy' }],
  ['addPackage/numpy/1.2.3/', 'pip', { action: 'addPackage', name: 'numpy', version: '1.2.3' }],
  ['addPackage/numpy/1.2.3', 'pip', { action: 'addPackage', name: 'numpy', version: '1.2.3' }],
  ['upgradePackage/numpy/2.0.2/', 'pip', { action: 'upgradePackage', name: 'numpy', version: '2.0.2' }],
  ['upgradePackage/numpy/', 'pip', { action: 'upgradePackage', name: 'numpy' }],
  ['removePackage/opencv-python/', 'pip', { action: 'removePackage', name: 'opencv-python' }],
  ['addPackage/numpy==1.26.4/', 'pip', { action: 'addPackage', name: 'numpy', version: '1.26.4' }],
  ['addPackage%2Fnumpy%2F1.0%2F', 'pip', { action: 'addPackage', name: 'numpy', version: '1.0' }],
  ['addPackage/requests[socks]/', 'pip', { action: 'addPackage', name: 'requests[socks]' }],
  ['addPackage/requests[socks,security]/2.32.3/', 'pip', { action: 'addPackage', name: 'requests[socks,security]', version: '2.32.3' }],
  ['addPackage/torch/2.1.0 cpu/', 'pip', { action: 'addPackage', name: 'torch', version: '2.1.0+cpu' }],
  ['addPackage/torch==2.1.0 cpu/', 'pip', { action: 'addPackage', name: 'torch', version: '2.1.0+cpu' }],
  ['addPackage/torch/2.1.0+cpu/', 'pip', { action: 'addPackage', name: 'torch', version: '2.1.0+cpu' }],
  ['addPackage/numpy/2.1.0rc1/', 'pip', { action: 'addPackage', name: 'numpy', version: '2.1.0rc1' }],
  ['addPackage/pkg/1!2.0.post1.dev3/', 'pip', { action: 'addPackage', name: 'pkg', version: '1!2.0.post1.dev3' }],
  ['addPackage/a/', 'pip', { action: 'addPackage', name: 'a' }],
  ['addPackage/_libgcc_mutex/0.1/', 'conda', { action: 'addPackage', name: '_libgcc_mutex', version: '0.1' }],
  ['addPackage/openssl/1.1.1w/', 'conda', { action: 'addPackage', name: 'openssl', version: '1.1.1w' }],
  ['addPackage/tzdata/2022a/', 'conda', { action: 'addPackage', name: 'tzdata', version: '2022a' }],
];

for (const [raw, kind, expected] of valid) {
  test(`parseUpdateCommand reads ${JSON.stringify(raw)} (${kind})`, (t) => {
    t.deepEqual(parseUpdateCommand(raw, kind), expected);
  });
}

const invalid: [string, 'pip' | 'conda', RegExp][] = [
  ['', 'pip', /action/],
  ['addPackage', 'pip', /action/],
  ['addPackage/', 'pip', /action/],
  ['addPackage//', 'pip', /names no package/],
  ['getPackage/x/', 'pip', /unknown action/],
  ['installPackage/x/', 'pip', /unknown action/],
  ['AddPackage/x/', 'pip', /unknown action/],
  ['/numpy/', 'pip', /unknown action/],
  ['addPackage/numpy/1.0/extra/', 'pip', /too many parts/],
  ['addPackage/numpy//', 'pip', /empty version/],
  ['removePackage/numpy/1.0/', 'pip', /takes no version/],
  ['removePackage/numpy==1.0/', 'pip', /takes no version/],
  ['addPackage/numpy==1.0/2.0/', 'pip', /not a valid pip package name/],
  ['addPackage/numpy;rm -rf /', 'pip', /not a valid pip package name/],
  ['addPackage/$(id)/', 'pip', /not a valid/],
  ['addPackage/`id`/', 'pip', /not a valid/],
  ['addPackage/a|b/', 'pip', /not a valid/],
  ['addPackage/a&&b/', 'pip', /not a valid/],
  ['addPackage/numpy\nremovePackage/pip/', 'pip', /control characters/],
  ['addPackage/numpy%0A/', 'pip', /control characters/],
  ['addPackage/-e/', 'pip', /not a valid/],
  ['addPackage/--index-url=x/', 'pip', /not a valid/],
  ['addPackage/--index-url=http://x/', 'pip', /too many parts/],
  ['addPackage/git+https:%2F%2Fgithub.com%2Fx/', 'pip', /too many parts/],
  ['addPackage/..%2F..%2Fetc/', 'pip', /too many parts/],
  ['addPackage/../', 'pip', /not a valid/],
  ['addPackage/a..b/', 'pip', /not a valid/],
  ['addPackage/.pkg/', 'pip', /not a valid/],
  ['addPackage/_private/', 'pip', /not a valid pip package name/],
  ['addPackage/pkg[]/', 'pip', /not a valid/],
  ['addPackage/pkg[a;b]/', 'pip', /not a valid/],
  ['addPackage/nümpy/', 'pip', /not a valid/],
  ['addPackage/numpy/1.0;rm/', 'pip', /not a valid pip version/],
  ['addPackage/numpy/>=1.0/', 'pip', /not a valid pip version/],
  ['addPackage/numpy/1..0/', 'pip', /not a valid pip version/],
  ['addPackage/numpy/latest/', 'pip', /not a valid pip version/],
  ['addPackage/numpy/-1/', 'pip', /not a valid pip version/],
  ['addPackage/numpy>=1.0/', 'pip', /not a valid pip package name/],
  ['addPackage/%E0%A4%A/', 'pip', /URL encoding/],
  ['addPackage/%ZZ/', 'pip', /URL encoding/],
  ['addPackage/gdal/>=3/', 'conda', /not a valid conda version/],
  ['addPackage/gdal/3.6=2/', 'conda', /not a valid conda version/],
  ['addPackage/-gdal/', 'conda', /not a valid conda package name/],
];

for (const [raw, kind, message] of invalid) {
  test(`parseUpdateCommand refuses ${JSON.stringify(raw)} (${kind})`, (t) => {
    const err = t.throws(() => parseUpdateCommand(raw, kind), { instanceOf: InvalidInputError });
    t.is(err?.code, 'INVALID_UPDATE_COMMAND');
    t.regex(err?.message ?? '', message);
    t.deepEqual(err?.details, { updateCommand: raw.slice(0, 200) });
  });
}

test(`parseUpdateCommand accepts ${MAX_COMMAND_LENGTH} characters and refuses one more`, (t) => {
  const prefix = 'addPackage/';
  const atLimit = `${prefix}${'a'.repeat(MAX_COMMAND_LENGTH - prefix.length - 1)}/`;
  t.is(atLimit.length, MAX_COMMAND_LENGTH);
  // The limit on the command passes; the name itself is then longer than a PEP 508 name may be here (200).
  t.throws(() => parseUpdateCommand(atLimit, 'pip'), { message: /not a valid pip package name/ });
  t.throws(() => parseUpdateCommand(`${atLimit}x`, 'pip'), { message: /longer than/ });
  t.deepEqual(parseUpdateCommand(`${prefix}${'a'.repeat(200)}/`, 'pip'), { action: 'addPackage', name: 'a'.repeat(200) });
});

test('formatUpdateCommand writes the canonical form with a trailing slash', (t) => {
  t.is(formatUpdateCommand({ action: 'addPackage', name: 'numpy' }), 'addPackage/numpy/');
  t.is(formatUpdateCommand({ action: 'addPackage', name: 'numpy', version: '1.2.3' }), 'addPackage/numpy/1.2.3/');
  t.is(formatUpdateCommand({ action: 'removePackage', name: 'opencv-python' }), 'removePackage/opencv-python/');
});

test('format then parse gives back the command, for every valid example', (t) => {
  for (const [raw, kind] of valid) {
    const command = parseUpdateCommand(raw, kind);
    t.deepEqual(parseUpdateCommand(formatUpdateCommand(command), kind), command, raw);
  }
});

test('isValidPackageName follows PEP 508 for pip and lets conda names start with _', (t) => {
  for (const name of ['numpy', 'Shapely', 'zope.interface', 'opencv-python', 'a', 'x1', 'requests[socks]', 'pkg[a,b]']) {
    t.true(isValidPackageName(name, 'pip'), name);
  }
  for (const name of ['', '-x', 'x-', '.x', 'x.', '_x', 'a b', 'a/b', 'a..b', 'a'.repeat(201), 'pkg[', 'pkg[a]b']) {
    t.false(isValidPackageName(name, 'pip'), name);
  }
  for (const name of ['_libgcc_mutex', 'python', 'libgdal-core', 'r-base']) t.true(isValidPackageName(name, 'conda'), name);
  for (const name of ['', '-x', 'a b', 'a/b', '..', 'a..b', 'pkg[x]']) t.false(isValidPackageName(name, 'conda'), name);
});

test('isValidVersion takes PEP 440 versions for pip and looser ones for conda, never operators', (t) => {
  for (const v of ['1', '1.0', '1.2.3', 'v1.0', '2.1.0rc1', '1.0a1', '1.0.post2', '1.0.dev0', '1!2.0', '2.1.0+cpu', '1.0-1']) {
    t.true(isValidVersion(v, 'pip'), v);
  }
  for (const v of ['', 'latest', '1..0', '>=1.0', '==1.0', '1.0;rm', '1.0 ', ' 1.0', '1.0/2', '*', '1.0+']) {
    t.false(isValidVersion(v, 'pip'), v);
  }
  for (const v of ['1.1.1w', '2022a', '9e', '3.6.2', '1.0_1']) t.true(isValidVersion(v, 'conda'), v);
  for (const v of ['', '>=3', '3 6', '3/6', '-3', `1${'0'.repeat(100)}`]) t.false(isValidVersion(v, 'conda'), v);
});
