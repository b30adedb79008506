import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One wrk run: requests/s, latency percentiles (ms), and the answers that were not 2xx/3xx or failed. */
export interface WrkResult {
  reqPerSec: number;
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/**
 * wrk (Debian's package, a C load generator: a Node load generator saturates before a Node server does on a
 * 2-core machine). Installed with apt-get when it is missing and this process may; otherwise the benchmark stops
 * and says how to install it.
 */
export function ensureWrk(): string {
  const found = (): boolean => {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' });
      return true;
    } catch (err) {
      // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
      return (err as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  };
  if (found()) return 'wrk';
  if (process.getuid?.() === 0) {
    process.stderr.write('wrk is missing: apt-get install -y wrk\n');
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (found()) return 'wrk';
  }
  throw new Error('wrk is needed for this benchmark: apt-get install -y wrk (as root)');
}

/** Milliseconds from wrk's `812.00us`, `3.21ms`, `1.02s`. */
function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`unreadable wrk latency "${text}"`);
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Drives `url` for `seconds` with `connections` over one wrk thread (the other core is the server's). */
export async function wrk(url: string, options: { seconds: number; connections: number; headers?: Record<string, string>; cpu?: number }): Promise<WrkResult> {
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const [file, ...argv] = options.cpu === undefined ? ['wrk', ...args] : ['taskset', '-c', String(options.cpu), 'wrk', ...args];
  const { stdout } = await run(file!, argv, { timeout: (options.seconds + 30) * 1000 });
  const reqPerSec = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const total = /(\d+) requests in/.exec(stdout);
  const p50 = /^\s*50%\s+(\S+)/m.exec(stdout);
  const p99 = /^\s*99%\s+(\S+)/m.exec(stdout);
  if (!reqPerSec || !total || !p50 || !p99) throw new Error(`unreadable wrk output:\n${stdout}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    reqPerSec: Number(reqPerSec[1]),
    requests: Number(total[1]),
    p50: ms(p50[1]!),
    p99: ms(p99[1]!),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0,
  };
}
