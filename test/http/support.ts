import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, relative } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

/** The sample processors (processors/*), as their processor.json files name them. */
export const SAMPLES = {
  pip: { name: 'sample_pip', id: '5c1f4a8e-2b7d-4f3a-9e61-0d2c8b7a4f10', owner: 'demo', isPublic: true },
  conda: { name: 'sample_conda', id: '9a3e6d21-7c4b-4e8f-b5a2-61f0c3d9e847', owner: 'demo', isPublic: true },
  oneshot: { name: 'sample_oneshot', id: 'e27b90c4-1d5f-4a63-8c0e-3b9f7a2d6c51', owner: 'demo', isPublic: false },
} as const;

export const ENDPOINTS = ['listPackages', 'managerVersion', 'environmentActions', 'environmentupdate', 'reset'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A GET with the path sent byte for byte as given (got and WHATWG URL would re-encode `%ZZ`, backticks and the
 * like). Node refuses only characters outside 0x21-0xff in a path, so bad input is written percent-encoded.
 */
export function rawGet(svc: Pick<TestService, 'url'>, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const url = new URL(svc.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The query of one endpoint for one processor, as WASDI's web client sends it. */
export function endpointPath(endpoint: Endpoint, processor: { name: string; id: string }, updateCommand?: string): string {
  const base = `/packageManager/${endpoint}`;
  switch (endpoint) {
    case 'listPackages':
    case 'managerVersion':
    case 'environmentActions':
      return `${base}?name=${encodeURIComponent(processor.name)}`;
    case 'environmentupdate':
      return `${base}?processorId=${encodeURIComponent(processor.id)}&workspace=-${updateCommand === undefined ? '' : `&updateCommand=${encodeURIComponent(updateCommand)}`}`;
    case 'reset':
      return `${base}?processorId=${encodeURIComponent(processor.id)}&workspace=-`;
  }
}

export function tokenHeader(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { 'x-session-token': token };
}

/** Starts a test service (queue worker stopped) that is closed when the test ends, whatever the outcome. */
export async function serviceFor(t: ExecutionContext, overrides: Parameters<typeof startTestService>[0] = {}): Promise<TestService> {
  // The worker stays stopped: these tests check what the HTTP layer records (CREATED) and that it changes no file.
  const svc = await startTestService(overrides, { worker: false });
  t.teardown(() => svc.close());
  return svc;
}

/** The error answer every 4xx/5xx carries: JSON `{ error: { code, message } }` with the given status and code. */
export function assertError(t: ExecutionContext, res: Answer, status: number, code: string): void {
  t.is(res.status, status, res.body.slice(0, 300));
  t.regex(String(res.headers['content-type']), /^application\/json/);
  const body = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } };
  t.is(body.error?.code, code);
  t.is(typeof body.error?.message, 'string');
  t.true((body.error?.message as string).length > 0);
}

export function json<T = unknown>(res: Answer): T {
  return JSON.parse(res.body) as T;
}

/** A digest of every file under `dir` (names and contents), to prove that a request changed nothing on disk. */
export function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(d, entry.name);
      hash.update(`${relative(dir, full)}\0${entry.isDirectory() ? 'dir' : 'file'}\0`);
      if (entry.isDirectory()) walk(full);
      else hash.update(readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

export async function allOperations(svc: TestService): Promise<Operation[]> {
  return svc.store.listOperations({ limit: 10_000 });
}

/**
 * Polls `probe` until it answers something `done` accepts, or the deadline passes (then the last value is
 * returned and the caller's assertion fails with it). Short intervals: the watcher answers in milliseconds.
 */
export async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, { timeoutMs = 5000, intervalMs = 10 } = {}): Promise<{ value: T; elapsedMs: number }> {
  const started = performance.now();
  for (;;) {
    const value = await probe();
    const elapsedMs = performance.now() - started;
    if (done(value) || elapsedMs > timeoutMs) return { value, elapsedMs };
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Writes a processor folder the way an operator would: processor.json (WASDI's field names) and optional files. */
export function writeProcessorFolder(
  processorsDir: string,
  name: string,
  descriptor: { processorId: string; type: string; userId: string; isPublic?: unknown },
  files: Record<string, string> = {},
): string {
  const folder = join(processorsDir, name);
  mkdirSync(folder, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(folder, file), content);
  writeFileSync(join(folder, 'processor.json'), JSON.stringify({ name, ...descriptor }, null, 2));
  return folder;
}

/** Shares a processor with a user the way WASDI's `userresourcepermissions` rows do. */
export async function share(svc: TestService, processor: { id: string; owner: string }, userId: string, permissions: 'read' | 'write'): Promise<void> {
  await svc.store.saveSharing({
    resourceType: 'processor', resourceId: processor.id, userId, ownerId: processor.owner, permissions,
    createdBy: processor.owner, createdDate: Date.now(),
  });
}

/** A session whose last use lies beyond the idle limit: it must be refused as expired. */
export async function expiredToken(svc: TestService, userId: string): Promise<string> {
  await svc.store.saveUser({ userId, role: 'USER' });
  const token = `expired-${userId}-${Date.now()}`;
  const old = Date.now() - (svc.config.sessionIdleMinutes + 1) * 60_000;
  await svc.store.saveSession({ sessionId: token, userId, loginDate: old, lastTouch: old });
  return token;
}
