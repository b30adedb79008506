import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { ProcessorCatalog } from './catalog/catalog.ts';
import { isMainNode } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { RabbitBridge } from './bridges/rabbitmq.ts';
import { EventHub } from './events/hub.ts';
import { Lifecycle } from './lifecycle/lifecycle.ts';
import { createLogger, type LogFormat } from './logger.ts';
import { Metrics } from './metrics/metrics.ts';
import { createManagers, environmentProblemOf } from './managers/registry.ts';
import type { ManagerRegistry } from './managers/types.ts';
import { FanoutService } from './nodes/fanout.ts';
import { PeerClient } from './nodes/peer-client.ts';
import { AdvisoryFeed } from './fleet/advisory-feed.ts';
import { Reporter } from './nodes/reporter.ts';
import { ClusterStatus } from './nodes/status.ts';
import { SyncService } from './nodes/sync.ts';
import { OperationWorker } from './queue/worker.ts';
import { BatchService } from './services/batches.ts';
import { AuditService } from './services/audit.ts';
import { EnvironmentService } from './services/environments.ts';
import { EventService } from './services/events.ts';
import { GenerationService } from './services/generations.ts';
import { HoldService } from './services/holds.ts';
import { InventoryService } from './services/inventory.ts';
import { PlanService } from './services/plans.ts';
import { OperationService } from './services/operations.ts';
import { ScheduleService } from './services/schedules.ts';
import { SessionService } from './services/sessions.ts';
import { UpdatesService } from './services/updates.ts';
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
  readonly lifecycle: Lifecycle;
  readonly events: EventService;
  readonly generations: GenerationService;
  readonly plans: PlanService;
  readonly inventory: InventoryService;
  readonly holds: HoldService;
  readonly batches: BatchService;
  readonly updates: UpdatesService;
  readonly schedules: ScheduleService;
  /** The vulnerability audit (its database: `advisories`). */
  readonly audit: AuditService;
  /** The advisory database, when `advisories` names one. */
  readonly advisories?: AdvisoryFeed;
  readonly hub: EventHub;
  readonly worker: OperationWorker;
  /** Main node: the fan-out to compute nodes. */
  readonly fanout?: FanoutService;
  /** Compute node with a main URL: the convergence with the main node's history. */
  readonly sync?: SyncService;
  readonly server: Server;
  /** `http://host:port` as bound (port 0 resolved). */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The composition root: config → logger → store → catalog → managers → services → http. Resolves once the
 * processors folder is scanned and the server listens; `stop()` closes in the reverse order.
 */
export async function startService(config: Config, options: {
  log?: Logger;
  managerEnv?: NodeJS.ProcessEnv;
  /** Replaces the package managers the config names (benchmarks: a no-op manager, so that the queue itself is measured). */
  managers?: ManagerRegistry;
} = {}): Promise<Service> {
  const log = options.log ?? createLogger(config.logLevel, undefined, config.logFormat as LogFormat);
  const managers = options.managers ?? createManagers(config, options.managerEnv, log);
  const store = await openStore(config, log.child({ component: 'store' }));
  const catalog = new ProcessorCatalog({
    processorsDir: config.processorsDir, store, log: log.child({ component: 'catalog' }),
    limits: {
      packagesInfoBytes: config['catalog.maxPackagesInfoBytes'], envActionsBytes: config['catalog.maxEnvActionsBytes'],
      processorJsonBytes: config['catalog.maxProcessorJsonBytes'],
    },
    folderCheckMs: config['catalog.folderCheckMs'], readAhead: config['catalog.readAhead'], environmentProblem: environmentProblemOf(managers),
  });
  try {
    await catalog.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  const lifecycle = new Lifecycle(store, log.child({ component: 'lifecycle' }));
  const hub = new EventHub({
    store, log: log.child({ component: 'events' }), pollMs: config['events.pollMs'],
    retentionCount: config['events.retentionCount'], retentionMs: config['events.retentionHours'] * 3_600_000,
  });
  const sessions = new SessionService({ store, sessionIdleMinutes: config.sessionIdleMinutes, clusterKey: config.clusterKey, log: log.child({ component: 'sessions' }) });
  const environments = new EnvironmentService({
    store, lifecycle, catalog, managers, log: log.child({ component: 'environments' }),
    nodeCode: config.nodeCode, isMainNode: isMainNode(config),
    readProcesses: config['managers.readProcesses'], versionCacheMs: config['managers.versionCacheSeconds'] * 1000,
  });
  const holds = new HoldService({ store, environments, catalog, isMainNode: isMainNode(config) });
  environments.holdCheck = (processor, commands) => holds.check(processor, commands);
  const generations = new GenerationService({ store, lifecycle, catalog, managers, environments, log: log.child({ component: 'generations' }) });
  const schedules = new ScheduleService({ store, lifecycle, log: log.child({ component: 'schedules' }), nodeCode: config.nodeCode, isMainNode: isMainNode(config) });
  const worker = new OperationWorker({ schedules,
    store, lifecycle, catalog, managers, generations, holds, log: log.child({ component: 'queue' }), nodeCode: config.nodeCode, isMainNode: isMainNode(config),
    concurrency: config['queue.concurrency'], leaseMs: config['queue.leaseSeconds'] * 1000,
    commandTimeoutMs: config['queue.commandTimeoutSeconds'] * 1000,
  });
  const main = isMainNode(config);
  const peer = new PeerClient({ nodeCode: config.nodeCode, clusterKey: config.clusterKey, timeoutMs: config['cluster.requestTimeoutMs'] });
  const clusterLog = log.child({ component: 'cluster' });
  const fanout = main ? new FanoutService({
    store, lifecycle, peer, log: clusterLog, nodeCode: config.nodeCode, concurrency: config['cluster.concurrency'],
    retryBaseMs: config['cluster.retryBaseMs'], retryMaxMs: config['cluster.retryMaxMs'],
    deadlineMs: config['cluster.deliveryDeadlineSeconds'] * 1000,
  }) : undefined;
  const followsMain = !main && config.mainUrl !== '' && config.clusterKey !== '';
  if (!main && !followsMain) clusterLog.warn('compute node without mainUrl and clusterKey: it will not converge with the main node');
  const sync = followsMain ? new SyncService({
    store, environments, peer, log: clusterLog, mainUrl: config.mainUrl, intervalMs: config['cluster.syncIntervalSeconds'] * 1000,
    retryBaseMs: config['cluster.catchUpRetryBaseSeconds'] * 1000, retryMaxMs: config['cluster.catchUpRetryMaxSeconds'] * 1000,
  }) : undefined;
  if (sync) environments.admitDelivery = (name, originId, insert) => sync.admitDelivery(name, originId, insert);
  const reporter = followsMain ? new Reporter(peer, config.mainUrl, config.nodeCode, clusterLog) : undefined;
  lifecycle.hooks = {
    queued: (op) => {
      worker.wake();
      if (fanout && !op.sync && op.notBefore === undefined) void fanout.enqueue(op).catch((err) => clusterLog.error({ err, operationId: op.processObjId }, 'fan-out could not be queued'));
    },
    // A scheduled operation goes to the compute nodes when the main node starts it, inside its time and window: the
    // nodes need neither its schedule nor the windows, and they apply changes in the order the main node ran them.
    started: (op) => {
      if (fanout && !op.sync && op.notBefore !== undefined) void fanout.enqueue(op).catch((err) => clusterLog.error({ err, operationId: op.processObjId }, 'fan-out could not be queued'));
    },
    ended: (op) => {
      reporter?.report(op).catch((err) => clusterLog.warn({ err, operationId: op.processObjId }, 'report to the main node failed'));
      sync?.onOperationFinished(op);
    },
    journaled: () => hub.poke(),
  };
  // packagesInfo.json rewritten by another hand (procenv's own writes publish with their operation): the event, then
  // the generation it makes when its package set is new.
  const eventsLog = log.child({ component: 'events' });
  const generationsLog = log.child({ component: 'generations' });
  catalog.on('packagesFile', (name: string) => {
    void lifecycle.packagesChanged(name, 'disk').catch((err) => eventsLog.warn({ err, processor: name }, 'packages event not stored'))
      .then(() => generations.recordFromDisk(name, 'disk'))
      .catch((err) => generationsLog.warn({ err, processor: name }, 'generation not recorded'));
  });
  // A processor registered while the service runs: its first generation, from the packagesInfo.json it came with.
  catalog.on('processor', (name: string) => void generations.firstSeen(name));
  const operations = new OperationService(store, lifecycle, environments, worker);
  const inventory = new InventoryService({ store, catalog });
  const advisories = config.advisories !== '' ? new AdvisoryFeed({ path: config.advisories, log: log.child({ component: 'advisories' }) }) : undefined;
  const audit = new AuditService({ store, environments, inventory, ...(advisories ? { advisories } : {}) });
  const plans = new PlanService({
    store, environments, generations, managers, catalog, log: generationsLog, ttlMs: config['plans.ttlMinutes'] * 60_000,
    maxPlans: config['plans.max'], dryRunTimeoutMs: Math.min(config['queue.commandTimeoutSeconds'], 300) * 1000,
  });
  const batches = new BatchService({
    store, lifecycle, environments, catalog, managers, generations, isMainNode: main, log: log.child({ component: 'batches' }), advisor: audit,
    dryRunTimeoutMs: Math.min(config['queue.commandTimeoutSeconds'], 300) * 1000,
  });
  const updates = new UpdatesService({ inventory, environments, listProcessors: () => store.listProcessors(), isMainNode: main, advisor: audit });
  const events = new EventService({
    hub, sessions, environments, operations, log: eventsLog,
    keepAliveMs: config['events.keepAliveSeconds'] * 1000, retryMs: config['events.retryMs'],
    maxStreams: config['events.maxStreams'], maxStreamsPerUser: config['events.maxStreamsPerUser'],
    maxPending: config['events.maxPending'], ticketMs: config['events.ticketSeconds'] * 1000,
  });
  // WASDI's web client hears of changes over RabbitMQ; only the main node publishes, as in WASDI.
  const bridge = main && config['rabbitmq.url'] ? new RabbitBridge({
    url: config['rabbitmq.url'], exchange: config['rabbitmq.exchange'], nodeCode: config.nodeCode, store,
    log: log.child({ component: 'rabbitmq' }), retryMaxMs: config['rabbitmq.retryMaxMs'],
    cursor: { load: () => store.findEventCursor('rabbitmq'), save: (id) => store.saveEventCursor('rabbitmq', id) },
  }) : undefined;
  const metrics = new Metrics({ store, nodeCode: config.nodeCode, openStreams: () => events.open, ...(bridge ? { publishLag: () => bridge.lag() } : {}) });
  hub.subscribe(metrics);
  if (bridge) hub.subscribe(bridge);
  await hub.start();
  await bridge?.start();
  const status = fanout ? new ClusterStatus({ store, peer, fanout, catalog, environments, generations, cacheMs: config['cluster.statusCacheSeconds'] * 1000 }) : undefined;
  // In the background: answers say `loading` until the first load of the advisory database has ended.
  advisories?.start();
  await worker.start();
  await fanout?.start();
  const readiness = {
    checks: {
      store: () => store.eventBounds().then(() => true),
      processorsFolder: () => catalog.watching,
      worker: () => worker.active,
    },
  };
  const operator = { readiness, metrics, ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}) };
  const app = buildApp({ log, sessions, environments, operations, events, generations, plans, inventory, holds, fleet: { batches, updates }, schedules, audit, operator, store, catalog, nodeCode: config.nodeCode, ...(status ? { status } : {}), ...(fanout ? { fanout } : {}), ...(sync ? { sync } : {}) });
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
  log.info({ url, nodeCode: config.nodeCode, mainNode: main, store: store.kind }, 'listening');
  // Converging needs this node's own API up (the main node asks it where it stands), so it starts last.
  await sync?.start();
  // Processors registered before this start and never recorded get their first generation, in the background once
  // the watcher is ready (start-up first).
  const firstSeen = catalog.watched().then(() => generations.recordFirstSeen())
    .catch((err) => generationsLog.warn({ err }, 'first generations not recorded'));

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      events.closeAll();
      generations.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // server.close() waits for every open request: one still open after a moment (an event stream a browser
        // opened again while the service was stopping) is cut, so that stop() always ends.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      hub.stop();
      await bridge?.stop();
      await sync?.stop();
      await fanout?.stop();
      peer.close();
      await worker.stop();
      await firstSeen;
      await advisories?.stop();
      await catalog.stop();
      await store.close();
      log.info('stopped');
    })();
    return stopping;
  };
  return { config, log, store, catalog, sessions, environments, operations, lifecycle, events, generations, plans, inventory, holds, batches, updates, schedules, audit, ...(advisories ? { advisories } : {}), hub, worker, ...(fanout ? { fanout } : {}), ...(sync ? { sync } : {}), server, url, stop };
}
