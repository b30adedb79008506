import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import got, { type Got } from 'got';
import type { Logger } from 'pino';
import { createSession, SAMPLES_DIR } from '../../src/cli.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config, ConfigKey } from '../../src/config/schema.ts';
import { createLogger } from '../../src/logger.ts';
import { startService, type Service } from '../../src/main.ts';

export { SAMPLES_DIR };

/** A config for tests: a fresh temp data folder, port 0 on loopback, silent logs; the sample processors copied. */
export function testConfig(overrides: Partial<Record<ConfigKey, unknown>> = {}): { config: Config; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'procenv-test-'));
  const processorsDir = join(root, 'processors');
  cpSync(SAMPLES_DIR, processorsDir, { recursive: true });
  const config = loadConfig({
    env: {},
    overrides: { host: '127.0.0.1', port: 0, dataDir: join(root, 'data'), processorsDir, logLevel: 'silent',
      // The wheel cache downloads in the background after each generation: only the tests of it turn it on.
      'pip.wheelCacheMegabytes': 0,
      // Tests change a packagesInfo.json right after the start and read it at once, which the watcher sees only
      // milliseconds later: without the read-ahead, that first read is the file as changed. test/catalog/start and
      // test/http/read-ahead cover the read-ahead.
      'catalog.readAhead': false, ...overrides },
  });
  return { config, root };
}

export interface TestService extends Service {
  root: string;
  /** got bound to the service, never throwing on HTTP errors, no retries. */
  http: Got;
  /** Creates a user (admin optional) and answers a session token for it. */
  login(userId: string, options?: { admin?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export interface TestServiceOptions {
  /**
   * false: the queue worker is stopped as soon as the service is up, so that recorded operations stay CREATED and
   * no package manager touches the processor folders (HTTP contract tests). Default true.
   */
  worker?: boolean;
  /** The environment package-manager processes start with (see `cleanPipEnv()` in pip-env.ts). */
  managerEnv?: NodeJS.ProcessEnv;
  /** The service's logger (default: one at the config's level on standard output). */
  log?: Logger;
  /** Runs on the copied processors folder before the service starts (what the start-up scan must find). */
  beforeStart?: (processorsDir: string) => void;
}

export async function startTestService(overrides: Partial<Record<ConfigKey, unknown>> = {}, options: TestServiceOptions = {}): Promise<TestService> {
  const { config, root } = testConfig(overrides);
  options.beforeStart?.(config.processorsDir);
  const service = await startService(config, { log: options.log ?? createLogger(config.logLevel), ...(options.managerEnv ? { managerEnv: options.managerEnv } : {}) });
  // Nothing is queued before startService resolves, so stopping here means nothing is ever claimed.
  if (options.worker === false) await service.worker.stop();
  // The service answers before its watcher is ready; tests that write files expect it to report them at once.
  await service.catalog.watched();
  const http = got.extend({ prefixUrl: service.url, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 30_000 } });
  return Object.assign(service, {
    root,
    http,
    async login(userId: string, options: { admin?: boolean } = {}) {
      await service.store.saveUser({ userId, role: options.admin ? 'ADMIN' : 'USER' });
      return createSession(service.store, userId);
    },
    async close() {
      await service.stop();
      rmSync(root, { recursive: true, force: true });
    },
  });
}
