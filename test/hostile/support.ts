import { Writable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import type { ConfigKey } from '../../src/config/schema.ts';
import { createLogger } from '../../src/logger.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

export { pollUntil, rawGet, json, writeProcessorFolder, SAMPLES } from '../http/support.ts';

export interface LogEntry {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface HostileService extends TestService {
  /** Every log entry at warn and above, parsed. */
  logs: LogEntry[];
  /** GET with a session token; the body parsed when it is JSON. */
  get(path: string, token: string, searchParams?: Record<string, string>): Promise<{ status: number; body: any; ms: number }>;
}

/**
 * A test service (sample processors copied, port 0 on 127.0.0.1) whose warnings are kept in `logs`, closed when the
 * test ends. `worker: false` stops the queue so that nothing runs a package manager.
 */
export async function hostileService(t: ExecutionContext, overrides: Partial<Record<ConfigKey, unknown>> = {},
  options: { worker?: boolean; managerEnv?: NodeJS.ProcessEnv; before?: (processorsDir: string) => void } = {}): Promise<HostileService> {
  const logs: LogEntry[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogEntry);
      done();
    },
  });
  const service = await startTestService({ logLevel: 'warn', ...overrides }, {
    log: createLogger('warn', sink),
    ...(options.worker === undefined ? {} : { worker: options.worker }),
    ...(options.managerEnv ? { managerEnv: options.managerEnv } : {}),
    ...(options.before ? { beforeStart: options.before } : {}),
  });
  const svc: HostileService = Object.assign(service, {
    logs,
    async get(path: string, token: string, searchParams?: Record<string, string>) {
      const started = performance.now();
      const res = await service.http.get(path.replace(/^\//, ''), { headers: { 'x-session-token': token }, ...(searchParams ? { searchParams } : {}) });
      let body: unknown = res.body;
      try {
        body = JSON.parse(res.body);
      } catch {
        // not JSON: kept as text
      }
      return { status: res.statusCode, body, ms: performance.now() - started };
    },
  });
  t.teardown(() => svc.close());
  return svc;
}

/** The problems an admin reads from GET /catalog/problems. */
export async function problems(svc: HostileService, adminToken: string): Promise<{ folder: string; file: string; reason: string; since: number }[]> {
  const res = await svc.get('catalog/problems', adminToken);
  return res.status === 200 ? res.body : [];
}
