import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { ManagerError, redactUrls, resultError } from '../../src/managers/errors.ts';
import { runCommand } from '../../src/managers/run-command.ts';

/** Whether a pid is still a live process (a zombie waiting for its reaper counts as dead). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

async function waitDead(pid: number, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await isAlive(pid))) return true;
    await delay(50);
  }
  return !(await isAlive(pid));
}

function collect() {
  const lines: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };
  return { lines, onLine: (stream: 'stdout' | 'stderr', line: string) => lines[stream].push(line) };
}

test('a zero and a non-zero exit both resolve with the exit code', async (t) => {
  const ok = await runCommand('sh', ['-c', 'exit 0']);
  t.is(ok.exitCode, 0);
  t.false(ok.timedOut);
  t.false(ok.aborted);
  const failed = await runCommand('sh', ['-c', 'echo nope >&2; exit 3']);
  t.is(failed.exitCode, 3);
  t.is(failed.signal, null);
  t.is(failed.stderr, 'nope\n');
});

test('arguments reach the program as given, without a shell', async (t) => {
  const res = await runCommand('printf', ['%s|', 'a b', '$HOME', '; rm -rf /', '*']);
  t.is(res.stdout, 'a b|$HOME|; rm -rf /|*|');
});

test('the environment is passed as given and the cwd is honoured', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'procenv-run-'));
  try {
    const res = await runCommand('sh', ['-c', 'echo "$ONLY_THIS:$OTHER"; pwd'], { env: { PATH: process.env.PATH, ONLY_THIS: 'yes' }, cwd: dir });
    t.is(res.stdout, `yes:\n${dir}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('onLine gets complete lines per stream, split on \\n and \\r\\n, with the last partial line flushed', async (t) => {
  const { lines, onLine } = collect();
  const res = await runCommand('sh', ['-c', "printf 'a\\nb\\r\\n'; printf 'x\\ny' >&2; sleep 0.05; printf 'c\\nd'"], { onLine });
  t.deepEqual(lines.stdout, ['a', 'b', 'c', 'd']);
  t.deepEqual(lines.stderr, ['x', 'y']);
  t.is(res.stdout, 'a\nb\r\nc\nd');
  t.is(res.stderr, 'x\ny');
});

test('a line split across writes and a multi-byte character split across chunks arrive whole', async (t) => {
  const { lines, onLine } = collect();
  await runCommand('python3', ['-c', [
    'import sys, time',
    'b = "héllo wörld\\n".encode()',
    'sys.stdout.buffer.write(b[:2]); sys.stdout.flush(); time.sleep(0.05)',
    'sys.stdout.buffer.write(b[2:]); sys.stdout.flush()',
  ].join('\n')], { onLine });
  t.deepEqual(lines.stdout, ['héllo wörld']);
});

test('a throwing onLine does not break the run', async (t) => {
  const res = await runCommand('sh', ['-c', 'echo one; echo two'], { onLine: () => { throw new Error('listener bug'); } });
  t.is(res.exitCode, 0);
  t.is(res.stdout, 'one\ntwo\n');
});

test('big output keeps only its tail in the result, while every line still reaches onLine', async (t) => {
  let count = 0;
  let last = '';
  const res = await runCommand('seq', ['1', '200000'], {
    maxOutputBytes: 1000,
    onLine: (_s, line) => { count++; last = line; },
  });
  t.is(res.exitCode, 0);
  t.true(res.stdout.length <= 1000, `kept ${res.stdout.length} bytes`);
  t.true(res.stdout.length > 900);
  t.true(res.stdout.endsWith('199999\n200000\n'));
  t.false(res.stdout.includes('\n1\n'));
  t.is(count, 200000);
  t.is(last, '200000');
});

test('a timeout kills the whole process tree, grandchildren included', async (t) => {
  let grandchild = 0;
  const res = await runCommand('sh', ['-c', 'sleep 100 & echo $!; sleep 100'], {
    timeoutMs: 300,
    onLine: (_s, line) => { grandchild = Number(line); },
  });
  t.true(res.timedOut);
  t.false(res.aborted);
  t.is(res.exitCode, null);
  t.is(res.signal, 'SIGTERM');
  // The stray-output grace (2 s after the kill) would end it at 2,300 ms at the earliest.
  t.true(res.durationMs >= 250 && res.durationMs < 2250, `took ${res.durationMs} ms`);
  t.true(grandchild > 0);
  t.true(await waitDead(grandchild), `grandchild ${grandchild} still runs`);
});

test('a process that ignores SIGTERM is killed with SIGKILL after the grace', async (t) => {
  let grandchild = 0;
  const res = await runCommand('sh', ['-c', 'trap "" TERM; sleep 100 & echo $!; wait'], {
    timeoutMs: 200,
    onLine: (_s, line) => { grandchild = Number(line); },
  });
  t.true(res.timedOut);
  t.is(res.signal, 'SIGKILL');
  t.true(res.durationMs >= 1500 && res.durationMs < 6000, `took ${res.durationMs} ms`);
  t.true(await waitDead(grandchild), `grandchild ${grandchild} still runs`);
});

test('an abort kills the process tree and resolves with aborted', async (t) => {
  const controller = new AbortController();
  let grandchild = 0;
  let abortedAt = 0;
  const res = await runCommand('sh', ['-c', 'sleep 100 & echo $!; sleep 100'], {
    signal: controller.signal,
    onLine: (_s, line) => {
      grandchild = Number(line);
      abortedAt = Date.now();
      controller.abort();
    },
  });
  t.true(res.aborted);
  t.false(res.timedOut);
  t.is(res.exitCode, null);
  // Counted from the abort: the stray-output grace would add 2 s after the kill.
  t.true(Date.now() - abortedAt < 1900, `the group got SIGTERM, not the stray-output grace (${Date.now() - abortedAt} ms after the abort)`);
  t.true(await waitDead(grandchild), `grandchild ${grandchild} still runs`);
});

test('an already aborted signal resolves at once without starting the program', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'procenv-run-'));
  try {
    const marker = join(dir, 'ran');
    const controller = new AbortController();
    controller.abort();
    const res = await runCommand('touch', [marker], { signal: controller.signal });
    t.true(res.aborted);
    t.is(res.exitCode, null);
    await delay(100);
    await t.throwsAsync(readFile(marker));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a background grandchild that keeps the output open does not hold the result forever', async (t) => {
  let grandchild = 0;
  const res = await runCommand('sh', ['-c', 'sleep 100 & echo $!; exit 0'], { onLine: (_s, line) => { grandchild = Number(line); } });
  t.is(res.exitCode, 0);
  t.true(res.durationMs < 6000, `took ${res.durationMs} ms`);
  t.true(await waitDead(grandchild), `grandchild ${grandchild} still runs`);
});

test('a program that does not exist rejects with COMMAND_NOT_FOUND', async (t) => {
  const err = await t.throwsAsync(runCommand('procenv-no-such-program', ['x']), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_NOT_FOUND');
  t.regex(err!.message, /procenv-no-such-program/);
});

test('a file that is not executable rejects with COMMAND_FAILED', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'procenv-run-'));
  try {
    const file = join(dir, 'script.sh');
    await writeFile(file, '#!/bin/sh\necho hi\n');
    await chmod(file, 0o644);
    const err = await t.throwsAsync(runCommand(file, []), { instanceOf: ManagerError });
    t.is(err?.code, 'COMMAND_FAILED');
    t.regex(err!.message, /EACCES/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an argument with a NUL byte rejects with COMMAND_FAILED instead of throwing', async (t) => {
  const err = await t.throwsAsync(runCommand('echo', ['a\0b']), { instanceOf: ManagerError });
  t.is(err?.code, 'COMMAND_FAILED');
});

test('resultError: exit 0 is a success; a failure carries the tool\'s ERROR lines with URL credentials masked', async (t) => {
  t.is(resultError(await runCommand('sh', ['-c', 'echo "ERROR: looks bad but exit 0" >&2']), 'sh'), undefined);
  const script = 'echo "Looking in indexes: https://user:tok3n@example.invalid/simple"; echo "WARNING: noise" >&2; '
    + 'echo "ERROR: No matching distribution found for x (from https://user:tok3n@example.invalid/simple/x/)" >&2; exit 1';
  const err = resultError(await runCommand('sh', ['-c', script]), 'pip install x');
  t.true(err instanceof ManagerError);
  t.is(err?.code, 'COMMAND_FAILED');
  t.is(err?.message, 'pip install x failed (exit status 1):\nERROR: No matching distribution found for x (from https://***@example.invalid/simple/x/)');
  t.like(err?.details, { exitCode: 1 });
  t.is(redactUrls('a http://k@h/ b file:///x c'), 'a http://***@h/ b file:///x c');
});

test('resultError: a timeout and a cancel get their own codes', async (t) => {
  const timedOut = resultError(await runCommand('sleep', ['5'], { timeoutMs: 50 }), 'sleep');
  t.is(timedOut?.code, 'COMMAND_TIMEOUT');
  const controller = new AbortController();
  controller.abort();
  t.is(resultError(await runCommand('sleep', ['5'], { signal: controller.signal }), 'sleep')?.code, 'COMMAND_CANCELLED');
});
