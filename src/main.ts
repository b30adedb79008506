import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { ProcessorCatalog } from './catalog/catalog.ts';
import { isMainNode } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { createLogger } from './logger.ts';
import { createManagers } from './managers/registry.ts';
import { OperationWorker } from './queue/worker.ts';
import { EnvironmentService } from './services/environments.ts';
import { OperationService } from './services/operations.ts';
import { SessionService } from './services/sessions.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/types.ts';

export interface Service {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  readonly catalog: ProcessorCatalog;
  readonly sessions: SessionService;
  readonly environments: EnvironmentService;
  readonly operations: OperationService;
  readonly worker: OperationWorker;
  readonly server: Server;
  /** `http://host:port` as bound (port 0 resolved). */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The composition root: config → logger → store → catalog → managers → services → http. Resolves once the
 * processors folder is scanned and the server listens; `stop()` closes in the reverse order.
 */
export async function startService(config: Config, options: { log?: Logger; managerEnv?: NodeJS.ProcessEnv } = {}): Promise<Service> {
  const log = options.log ?? createLogger(config.logLevel);
  const store = await openStore(config);
  const catalog = new ProcessorCatalog({ processorsDir: config.processorsDir, store, log: log.child({ component: 'catalog' }) });
  try {
    await catalog.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  const managers = createManagers(config, options.managerEnv);
  const sessions = new SessionService({ store, sessionIdleMinutes: config.sessionIdleMinutes });
  const environments = new EnvironmentService({
    store, catalog, managers, log: log.child({ component: 'environments' }),
    nodeCode: config.nodeCode, isMainNode: isMainNode(config),
  });
  const worker = new OperationWorker({
    store, catalog, managers, log: log.child({ component: 'queue' }), nodeCode: config.nodeCode, isMainNode: isMainNode(config),
    concurrency: config['queue.concurrency'], leaseMs: config['queue.leaseSeconds'] * 1000,
    commandTimeoutMs: config['queue.commandTimeoutSeconds'] * 1000,
  });
  environments.onOperationCreated = () => worker.wake();
  const operations = new OperationService(store, environments, worker);
  await worker.start();
  const app = buildApp({ log, sessions, environments, operations });
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, nodeCode: config.nodeCode, mainNode: isMainNode(config), store: store.kind }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await worker.stop();
      await catalog.stop();
      await store.close();
      log.info('stopped');
    })();
    return stopping;
  };
  return { config, log, store, catalog, sessions, environments, operations, worker, server, url, stop };
}
