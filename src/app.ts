import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { ProcessorCatalog } from './catalog/catalog.ts';
import { packageManagerRoutes } from './http/routes/package-manager.ts';
import { requestContext } from './http/middleware/request.ts';
import { ExactRoutes } from './http/exact-routes.ts';
import { openapiRoutes } from './http/routes/openapi.ts';
import { catalogRoutes, type CatalogRoutesDeps } from './http/routes/catalog.ts';
import { batchRoutes } from './http/routes/batches.ts';
import { clusterRoutes, type ClusterRoutesDeps } from './http/routes/cluster.ts';
import { eventRoutes } from './http/routes/events.ts';
import { auditRoutes } from './http/routes/audit.ts';
import { generationRoutes } from './http/routes/generations.ts';
import { holdRoutes } from './http/routes/holds.ts';
import { packageRoutes } from './http/routes/packages.ts';
import { planRoutes } from './http/routes/plans.ts';
import { operatorRoutes, type OperatorRoutesDeps } from './http/routes/operator.ts';
import { operationRoutes } from './http/routes/operations.ts';
import { panelFiles } from './http/panel-files.ts';
import { processorRoutes } from './http/routes/processors.ts';
import { windowRoutes } from './http/routes/windows.ts';
import { ProcessorSummaryService } from './services/processor-summaries.ts';
import type { BatchService } from './services/batches.ts';
import type { AuditService } from './services/audit.ts';
import type { EnvironmentService } from './services/environments.ts';
import type { EventService } from './services/events.ts';
import type { GenerationService } from './services/generations.ts';
import type { HoldService } from './services/holds.ts';
import type { InventoryService } from './services/inventory.ts';
import type { PlanService } from './services/plans.ts';
import type { ScheduleService } from './services/schedules.ts';
import type { OperationService } from './services/operations.ts';
import type { SessionService } from './services/sessions.ts';
import type { UpdatesService } from './services/updates.ts';

export interface AppDeps extends ClusterRoutesDeps {
  log: Logger;
  sessions: SessionService;
  environments: EnvironmentService;
  operations: OperationService;
  /** /health, /ready and /metrics; absent: no such routes. */
  operator?: OperatorRoutesDeps;
  /** The event stream (GET /events); absent: no such route. */
  events?: EventService;
  /** The generations of processors' environments (GET /processors/:name/generations…); absent: no such routes. */
  generations?: GenerationService;
  /** Plans and restores (POST /processors/:name/plans, /plans/:id/execute, …/generations/:n/restore); absent: none. */
  plans?: PlanService;
  /** The packages across processors (GET /packages/summary, /packages/search, /packages/search/count); absent: none. */
  inventory?: InventoryService;
  /** Holds (GET/PUT/DELETE /processors/:name/holds…); absent: none. */
  holds?: HoldService;
  /** Batches across processors and the updates available (POST /batches…, GET /updates…); absent: none. */
  fleet?: { batches: BatchService; updates: UpdatesService };
  /** Maintenance windows (GET/PUT/DELETE /windows…); absent: none. */
  schedules?: ScheduleService;
  /** The vulnerability audit (GET /audit, /processors/:name/audit, /audit/ignores…); absent: none. */
  audit?: AuditService;
  /**
   * The processors folder: its refused folders and files (GET /catalog/problems) and the parsed snapshots the
   * panel's processor list counts packages in (GET /processors); absent: neither route.
   */
  catalog?: CatalogRoutesDeps['catalog'] & Pick<ProcessorCatalog, 'snapshot'>;
}

/** The Koa application, without listen(), so that tests mount it in-process on port 0. */
export function buildApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.silent = true;
  const exact = new ExactRoutes();
  app.use(requestContext({ log: deps.log, exact, ...(deps.operator?.metrics ? { metrics: deps.operator.metrics } : {}) }));
  app.use(panelFiles());
  // One router for every route: one path match per request instead of one per resource.
  const router = new Router();
  openapiRoutes(router);
  packageManagerRoutes(deps, router, exact);
  operationRoutes(deps, router);
  clusterRoutes(deps, router);
  if (deps.operator) operatorRoutes(deps.operator, router);
  if (deps.events) eventRoutes({ sessions: deps.sessions, events: deps.events }, router);
  if (deps.generations) generationRoutes({ sessions: deps.sessions, generations: deps.generations }, router);
  if (deps.plans) planRoutes({ sessions: deps.sessions, plans: deps.plans }, router);
  if (deps.inventory) packageRoutes({ sessions: deps.sessions, inventory: deps.inventory }, router);
  if (deps.holds) holdRoutes({ sessions: deps.sessions, holds: deps.holds }, router);
  if (deps.fleet) batchRoutes({ sessions: deps.sessions, ...deps.fleet }, router);
  if (deps.schedules) windowRoutes({ sessions: deps.sessions, schedules: deps.schedules }, router);
  if (deps.audit) auditRoutes({ sessions: deps.sessions, audit: deps.audit }, router);
  if (deps.catalog) {
    catalogRoutes({ sessions: deps.sessions, catalog: deps.catalog }, router);
    const summaries = new ProcessorSummaryService({ store: deps.store, catalog: deps.catalog, environments: deps.environments });
    processorRoutes({ sessions: deps.sessions, environments: deps.environments, summaries }, router);
  }
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
