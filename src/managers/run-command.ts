import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ManagerError } from './errors.ts';

/** What a finished process left: its verdict, why it stopped, and the tail of its output. */
export interface CommandResult {
  /** The exit status; null when the process was ended by a signal (or never started: aborted beforehand). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Ended because `timeoutMs` passed. */
  timedOut: boolean;
  /** Ended (or never started) because `signal` was aborted. */
  aborted: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  cwd?: string;
  /** The whole environment of the process (default: this process's). Passed as given, never merged. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Each complete output line, per stream, without its line ending; a last partial line comes at exit. */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Bytes of each stream kept in the result; the tail is kept (errors come last). Default 4 MiB. */
  maxOutputBytes?: number;
  /** The pid of the started process, which leads its own process group (recorded so a crash can clean up). */
  onSpawn?: (pid: number) => void;
}

const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;
/** Between SIGTERM and SIGKILL: pip removes its temp dirs on SIGTERM, which takes a moment. */
const KILL_GRACE_MS = 2000;
/**
 * After the process exits, how long its stdio may stay open. A grandchild left running in the background keeps
 * the pipes open; a package-manager command has no business leaving one, so it is killed with the group.
 */
const STRAY_GRACE_MS = 2000;
/** A "line" without a line ending (a progress bar redrawn with \r) is cut at this length so memory stays bounded. */
const MAX_LINE_CHARS = 64 * 1024;

/** Keeps the last `max` bytes of a stream. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.max;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  toString(): string {
    let buf = Buffer.concat(this.chunks);
    // The cut may fall inside a UTF-8 character: drop its continuation bytes rather than show a replacement char.
    let start = 0;
    while (start < buf.length && start < 4 && (buf[start]! & 0xc0) === 0x80) start++;
    if (start > 0) buf = buf.subarray(start);
    return buf.toString('utf8');
  }
}

/** Splits a byte stream into lines (\n or \r\n), decoding UTF-8 across chunk boundaries. */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) !== -1) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      this.emit(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    while (this.pending.length > MAX_LINE_CHARS) {
      this.emit(this.pending.slice(0, MAX_LINE_CHARS));
      this.pending = this.pending.slice(MAX_LINE_CHARS);
    }
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '') this.emit(this.pending.endsWith('\r') ? this.pending.slice(0, -1) : this.pending);
    this.pending = '';
  }
}

/** Sends a signal to the child's whole process group (it leads one: `detached`), so grandchildren get it too. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Runs a program without a shell, from an argument array, and resolves with its result once it has exited and
 * its output is closed. A non-zero exit is a normal result; only a failure to start (ENOENT, EACCES) rejects,
 * with a ManagerError. On timeout or abort the whole process group gets SIGTERM, then SIGKILL after a grace.
 */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const started = performance.now();
  const { signal, onLine, timeoutMs } = options;
  if (signal?.aborted) {
    return Promise.resolve({ exitCode: null, signal: null, timedOut: false, aborted: true, stdout: '', stderr: '', durationMs: 0 });
  }
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;

  return new Promise<CommandResult>((resolve, reject) => {
    let child: ChildProcessByStdio<null, Readable, Readable>;
    try {
      child = spawn(file, [...args], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        shell: false,
      });
    } catch (err) {
      // Invalid arguments (a NUL byte in an argument) throw synchronously.
      reject(new ManagerError('COMMAND_FAILED', `cannot run ${file}: ${(err as NodeJS.ErrnoException).code ?? 'invalid arguments'}`, { cause: err }));
      return;
    }
    if (child.pid !== undefined) {
      try {
        options.onSpawn?.(child.pid);
      } catch {
        // A failing listener must not leave the child unattended.
      }
    }
    const out = { stdout: new TailBuffer(max), stderr: new TailBuffer(max) };
    const deliver = (stream: 'stdout' | 'stderr') => (line: string) => {
      try {
        onLine?.(stream, line);
      } catch {
        // A failing listener must not break the run (or leave the child unattended).
      }
    };
    const lines = { stdout: new LineSplitter(deliver('stdout')), stderr: new LineSplitter(deliver('stderr')) };
    child.stdout.on('data', (chunk: Buffer) => {
      out.stdout.push(chunk);
      lines.stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out.stderr.push(chunk);
      lines.stderr.push(chunk);
    });

    let settled = false;
    let timedOut = false;
    let aborted = false;
    let killRequested = false;
    const timers: NodeJS.Timeout[] = [];

    const cleanup = () => {
      for (const t of timers) clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
    };

    const stop = () => {
      if (killRequested || child.pid === undefined) return;
      killRequested = true;
      killGroup(child.pid, 'SIGTERM');
      timers.push(setTimeout(() => killGroup(child.pid!, 'SIGKILL'), KILL_GRACE_MS).unref());
    };

    function onAbort() {
      if (settled) return;
      aborted = true;
      stop();
    }

    if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timers.push(setTimeout(() => {
        if (settled) return;
        timedOut = true;
        stop();
      }, timeoutMs));
    }
    signal?.addEventListener('abort', onAbort, { once: true });

    child.once('error', (err: NodeJS.ErrnoException) => {
      // Only a failure to start arrives here (kills go through process.kill).
      if (settled) return;
      settled = true;
      cleanup();
      const notFound = err.code === 'ENOENT';
      reject(new ManagerError(
        notFound ? 'COMMAND_NOT_FOUND' : 'COMMAND_FAILED',
        notFound ? `cannot run ${file}: not found (or its working folder does not exist)` : `cannot run ${file}: ${err.code ?? err.message}`,
        { cause: err, details: { command: file } },
      ));
    });

    child.once('exit', () => {
      if (settled || child.pid === undefined) return;
      const pid = child.pid;
      timers.push(setTimeout(() => {
        // Something the child started still holds its stdio: end the group and stop waiting for it.
        killGroup(pid, 'SIGKILL');
        child.stdout.destroy();
        child.stderr.destroy();
      }, STRAY_GRACE_MS).unref());
    });

    child.once('close', (code: number | null, sig: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      cleanup();
      // A grandchild that shrugged off SIGTERM but closed its output would otherwise outlive the kill.
      if (killRequested && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      lines.stdout.end();
      lines.stderr.end();
      resolve({
        exitCode: code,
        signal: sig,
        timedOut,
        aborted,
        stdout: out.stdout.toString(),
        stderr: out.stderr.toString(),
        durationMs: Math.round(performance.now() - started),
      });
    });
  });
}
