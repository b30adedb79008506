import { readFileSync } from 'node:fs';
import test from 'ava';
import { ManagerError } from '../../src/managers/errors.ts';
import type { CommandResult } from '../../src/managers/run-command.ts';
import {
  checkCondaResult, condaErrorOf, lastJsonDocument, parseCondaList, parseCondaVersion, redactCondaText,
} from '../../src/managers/conda/conda-output.ts';

// Recorded outputs of real conda, mamba and micromamba runs; where each comes from: test/fixtures/conda/SOURCES.md.
const fixture = (name: string) => readFileSync(new URL(`../fixtures/conda/${name}`, import.meta.url), 'utf8');

function ran(stdout: string, exitCode: number | null, stderr = '', extra: Partial<CommandResult> = {}): CommandResult {
  return { exitCode, signal: null, timedOut: false, aborted: false, stdout, stderr, durationMs: 5, ...extra };
}

function failure(t: import('ava').ExecutionContext, fn: () => unknown): ManagerError {
  const err = t.throws(fn, { instanceOf: ManagerError });
  return err as ManagerError;
}

// --- list ---------------------------------------------------------------------------------------------------

test('conda list --json becomes WASDI conda packages: name, version, build string and channel', (t) => {
  const all = parseCondaList(lastJsonDocument(fixture('conda-list-qgist.json')));
  t.deepEqual(all, [
    { managerName: 'conda', packageName: 'zlib', currentVersion: '1.2.11', currentBuild: 'h7b6447c_3', channel: 'pkgs/main' },
    { managerName: 'conda', packageName: 'zstd', currentVersion: '1.4.4', currentBuild: 'h3b9ef0a_1', channel: 'conda-forge' },
  ]);
  // Conda has no outdated concept (reference §2.1): nothing claims a latest version.
  t.true(all.every((p) => p.latestVersion === undefined && p.type === undefined));
});

test('micromamba 1.5 and 2.0 list entries give the same channel, though 2.0 printed the package file in it', (t) => {
  const old = parseCondaList(lastJsonDocument(fixture('micromamba-1.5.10-list.json')));
  const mangled = parseCondaList(lastJsonDocument(fixture('micromamba-2.0.0-list.json')));
  t.is(old[0]!.channel, 'conda-forge');
  t.deepEqual(mangled, old);
});

test('a list document that is not an array of named packages is UNEXPECTED_OUTPUT', (t) => {
  t.is(failure(t, () => parseCondaList(undefined)).code, 'UNEXPECTED_OUTPUT');
  t.is(failure(t, () => parseCondaList(JSON.parse(fixture('conda-remove-packages-not-found.json')))).code, 'UNEXPECTED_OUTPUT');
  t.is(failure(t, () => parseCondaList([{ version: '1.0' }])).code, 'UNEXPECTED_OUTPUT');
});

// --- finding the result document ------------------------------------------------------------------------------

test('the result document is found after NUL-separated progress records (conda ≥ 22.11)', (t) => {
  const text = fixture('conda-install-progress-nul.txt');
  t.true(text.includes('\0'));
  const doc = lastJsonDocument(text) as { success: boolean; actions: { LINK: { name: string }[] } };
  t.is(doc.success, true);
  t.deepEqual(doc.actions.LINK.map((l) => l.name), ['ca-certificates', 'openssl', 'python_abi', 'certifi', 'pandas']);
});

test('the result document is found after a plain-text line conda printed on stdout', (t) => {
  const text = fixture('conda-remove-all-success.txt');
  t.throws(() => JSON.parse(text));
  const doc = lastJsonDocument(text) as { success: boolean; prefix: string };
  t.is(doc.success, true);
  t.is(doc.prefix, '/Users/benjaminbertrand/miniconda3/envs/foo');
});

test('newline-separated progress records of older conda are skipped, not taken for the result', (t) => {
  // conda 4.1 wrote one record per line, then the document (conda/conda#3026 shows the shape).
  const records = '{"maxval": 1, "finished": false, "progress": 0}\n{"maxval": 1, "finished": true, "progress": 1}\n';
  const doc = lastJsonDocument(records + fixture('conda-remove-packages-not-found.json')) as { exception_name: string };
  t.is(doc.exception_name, 'PackagesNotFoundError');
  t.is(lastJsonDocument(records), undefined);
});

test('text without any JSON has no result document', (t) => {
  t.is(lastJsonDocument(fixture('mamba-1-install-no-json.txt')), undefined);
  t.is(lastJsonDocument(''), undefined);
});

// --- success and failure --------------------------------------------------------------------------------------

test('exit 0 with "success": true is a success and answers the document', (t) => {
  const doc = checkCondaResult(ran(fixture('conda-install-progress-nul.txt'), 0), 'conda install pandas') as { success: boolean };
  t.is(doc.success, true);
  t.notThrows(() => checkCondaResult(ran(fixture('micromamba-install-nothing-to-do.json'), 0), 'micromamba install x'));
});

test('PackagesNotFoundError: the ManagerError carries conda\'s own message and exception name', (t) => {
  const err = failure(t, () => checkCondaResult(ran(fixture('conda-install-packages-not-found.json'), 1), 'conda install foobarfooo'));
  t.is(err.code, 'COMMAND_FAILED');
  t.true(err.message.startsWith('conda install foobarfooo failed: PackagesNotFoundError: The following packages are not available from current channels:'));
  t.true(err.message.includes('  - foobarfooo'));
  t.is(err.details?.exceptionName, 'PackagesNotFoundError');
  t.is(err.details?.exitCode, 1);
});

test('removing a package that is not installed fails with conda\'s "missing from the target environment"', (t) => {
  const err = failure(t, () => checkCondaResult(ran(fixture('conda-remove-packages-not-found.json'), 1), 'conda remove pandas'));
  t.is(err.message, 'conda remove pandas failed: PackagesNotFoundError: The following packages are missing from the target environment:\n  - pandas');
});

test('an error document fails the run even when the exit status is 0', (t) => {
  const err = failure(t, () => checkCondaResult(ran(fixture('conda-install-packages-not-found.json'), 0), 'conda install foobarfooo'));
  t.is(err.code, 'COMMAND_FAILED');
  const solver = failure(t, () => checkCondaResult(ran(fixture('micromamba-install-solver-problems.json'), 0), 'micromamba install imaginary-package'));
  t.is(solver.message, 'micromamba install imaginary-package failed: could not solve the environment:\n  - nothing provides requested imaginary-package');
});

test('a non-zero exit fails the run even when the document says "success": true', (t) => {
  // micromamba could exit 1 with {"success": true} and the reason only on stderr (mamba-org/mamba#1945).
  const err = failure(t, () => checkCondaResult(ran(fixture('micromamba-install-nothing-to-do.json'), 1, fixture('micromamba-install-libmamba-error.txt')), 'micromamba install faiss-gpu'));
  t.is(err.code, 'COMMAND_FAILED');
  t.true(err.message.startsWith('micromamba install faiss-gpu exited with status 1:\nerror    libmamba Could not solve for environment specs'));
  t.true(err.message.includes('nothing provides cudatoolkit >=11.3.1,<11.4.0a0 needed by libfaiss-1.7.3-hfc2d529_0_cuda11.3'));
  t.false(err.message.includes('Using cache'));
});

test('a failure printed as text only (mamba 1.x, micromamba 0.16) is reported with that text', (t) => {
  const mamba = failure(t, () => checkCondaResult(ran(fixture('mamba-1-install-no-json.txt'), 1), 'mamba install xyz'));
  t.true(mamba.message.includes('nothing provides requested xyz'));
  const micro = failure(t, () => checkCondaResult(ran('', 1, fixture('micromamba-0.16-create-stderr.txt')), 'micromamba create'));
  t.true(micro.message.startsWith('micromamba create exited with status 1'));
  t.true(micro.message.includes('ERROR   Could not solve for environment specs'));
});

test('a run the runner stopped is COMMAND_TIMEOUT or COMMAND_CANCELLED, whatever it printed', (t) => {
  const partial = fixture('conda-install-progress-nul.txt').split('\0')[0]!;
  t.is(failure(t, () => checkCondaResult(ran(partial, null, '', { timedOut: true, signal: 'SIGTERM' }), 'conda install pandas')).code, 'COMMAND_TIMEOUT');
  t.is(failure(t, () => checkCondaResult(ran(partial, null, '', { aborted: true, signal: 'SIGTERM' }), 'conda install pandas')).code, 'COMMAND_CANCELLED');
});

test('a run ended by a signal without a document fails and names the signal', (t) => {
  const err = failure(t, () => checkCondaResult(ran('', null, '', { signal: 'SIGKILL' }), 'conda install pandas'));
  t.is(err.code, 'COMMAND_FAILED');
  t.true(err.message.startsWith('conda install pandas was ended by SIGKILL'));
});

test('a successful run that printed nothing is accepted (mamba 2 prints nothing when there is nothing to do)', (t) => {
  t.is(checkCondaResult(ran('', 0), 'mamba create'), undefined);
});

test('condaErrorOf ignores success documents and their informational message', (t) => {
  t.is(condaErrorOf(JSON.parse(fixture('micromamba-install-nothing-to-do.json'))), undefined);
  t.is(condaErrorOf(JSON.parse(fixture('conda-install-dry-run-success.json'))), undefined);
  t.is(condaErrorOf(JSON.parse(fixture('conda-list-qgist.json'))), undefined);
  t.deepEqual(condaErrorOf({ success: false }), { message: 'the tool reported "success": false' });
});

test('channel tokens and URL credentials never reach an error message', (t) => {
  t.is(redactCondaText('https://conda.anaconda.org/t/tk-12345-abc/private/linux-64'), 'https://conda.anaconda.org/t/***/private/linux-64');
  t.is(redactCondaText('https://user:s3cret@mirror.example/conda'), 'https://***@mirror.example/conda');
  const doc = { exception_name: 'UnavailableInvalidChannel', message: 'The channel is not accessible: https://conda.anaconda.org/t/tk-999/private' };
  const err = failure(t, () => checkCondaResult(ran(JSON.stringify(doc), 1), 'conda install x'));
  t.false(err.message.includes('tk-999'));
});

// --- version --------------------------------------------------------------------------------------------------

test('conda --version "conda 24.5.0" is conda 24.5.0', (t) => {
  t.deepEqual(parseCondaVersion(fixture('conda-version.txt'), 'conda'), { name: 'conda', version: '24.5.0', major: 24, minor: 5, patch: 0 });
});

test('mamba 1.x --version reports mamba\'s own line, not the conda under it', (t) => {
  t.deepEqual(parseCondaVersion(fixture('mamba-1.5.12-version.txt'), 'mamba'), { name: 'mamba', version: '1.5.12', major: 1, minor: 5, patch: 12 });
  t.deepEqual(parseCondaVersion(fixture('mamba-0.3.3-version.txt'), 'mamba'), { name: 'mamba', version: '0.3.3', major: 0, minor: 3, patch: 3 });
});

test('a bare version (micromamba, mamba 2) is named after the configured tool', (t) => {
  t.deepEqual(parseCondaVersion(fixture('micromamba-2.1.1-version.txt'), 'micromamba'), { name: 'micromamba', version: '2.1.1', major: 2, minor: 1, patch: 1 });
  t.deepEqual(parseCondaVersion(fixture('micromamba-1.5.6-version.txt'), 'micromamba'), { name: 'micromamba', version: '1.5.6', major: 1, minor: 5, patch: 6 });
  t.deepEqual(parseCondaVersion('2.1.1\n', 'mamba'), { name: 'mamba', version: '2.1.1', major: 2, minor: 1, patch: 1 });
});

test('version output that names no version is UNEXPECTED_OUTPUT', (t) => {
  t.is(failure(t, () => parseCondaVersion('usage: conda [-h] [-v] ...\n', 'conda')).code, 'UNEXPECTED_OUTPUT');
  t.is(failure(t, () => parseCondaVersion('', 'micromamba')).code, 'UNEXPECTED_OUTPUT');
});
