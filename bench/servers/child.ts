import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SERVERS = new URL('./', import.meta.url).pathname;

/**
 * Starts a script of bench/servers as a child process and waits for its `{ url }` line on stdout; any other line
 * (procenv's pino warnings go to stdout) is passed on to stderr with the script's name. `env` adds variables (a key
 * passed this way does not show in the process list, as an argument would).
 */
export async function startChild(script: string, args: string[], nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}, cpu?: number): Promise<{ child: ChildProcess; url: string }> {
  const command = [process.execPath, ...nodeArgs, '--import', 'tsx', join(SERVERS, script), ...args];
  // taskset execs node in its place: the child's pid is node's, for /proc and signals alike.
  const [file, ...argv] = cpu === undefined ? command : ['taskset', '-c', String(cpu), ...command];
  const child = spawn(file!, argv, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    let found: string | undefined;
    child.once('exit', (code) => found ?? reject(new Error(`${script} exited with ${code} before listening`)));
    lines.on('line', (line) => {
      if (found === undefined) {
        try {
          const parsed = JSON.parse(line) as { url?: unknown };
          if (typeof parsed.url === 'string') {
            found = parsed.url;
            resolve(found);
            return;
          }
        } catch { /* not the url line */ }
      }
      process.stderr.write(`[${script}] ${line}\n`);
    });
  });
  return { child, url };
}

/**
 * The CPUs to keep servers and load generator apart on (servers on the last, the load generator on the first),
 * when this machine has two or more and `taskset` (util-linux) is there; undefined otherwise. Apart, neither
 * steals the other's core and the scheduler's moves do not enter the figures: on a 2-core machine the rounds of
 * one server then differ by a few percent instead of tens.
 */
export function pinnedCpus(): { server: number; load: number } | undefined {
  const count = availableParallelism();
  if (count < 2) return undefined;
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { server: count - 1, load: 0 };
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The q-quantile (0..1) of the values, nearest rank; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * CPU seconds (user + system, all threads) a process has used so far, from /proc (Linux); undefined elsewhere.
 * CPU per operation moves far less than operations/s when other work shares the machine.
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) (utime, stime), counted from the state field (3) after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** A whole-number option from parseArgs' values, at least `min`; anything else stops the benchmark with a message. */
export function integerOption(values: Record<string, unknown>, name: string, min = 1): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
}

/** A loopback port nothing listens on now (a server bound to port 0, then closed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** mulberry32: the same "random" sequence for a seed on every run, so that runs compare. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
