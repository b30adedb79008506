import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError } from '../../domain/errors.ts';
import type { ManagerKind } from '../../domain/processor.ts';
import type { SearchFilters } from '../../fleet/package-index.ts';
import type { InventoryService } from '../../services/inventory.ts';
import type { SessionService } from '../../services/sessions.ts';
import { boolParam, intParam, queryParam } from '../params.ts';
import { requestCaller } from '../caller.ts';

export interface PackageRoutesDeps {
  sessions: SessionService;
  inventory: InventoryService;
}

const MANAGERS: readonly ManagerKind[] = ['pip', 'conda'];

/** The search filters of a request; `installed=false` asks for packages installed nowhere, which the index has none of. */
function filtersOf(ctx: Context): SearchFilters & { none?: true } {
  const filters: SearchFilters & { none?: true } = {};
  const q = queryParam(ctx, 'q');
  if (q !== undefined && q !== '') filters.q = q;
  const manager = queryParam(ctx, 'manager');
  if (manager !== undefined && manager !== '') {
    if (!(MANAGERS as readonly string[]).includes(manager)) throw new InvalidInputError('INVALID_PARAMETER', `query parameter "manager" takes ${MANAGERS.join(' or ')}; got ${JSON.stringify(manager.slice(0, 40))}`);
    filters.manager = manager as ManagerKind;
  }
  const type = queryParam(ctx, 'type');
  if (type !== undefined && type !== '') filters.type = type.slice(0, 200);
  const upgradable = boolParam(ctx, 'upgradable');
  if (upgradable !== undefined) filters.upgradable = upgradable;
  const held = boolParam(ctx, 'held');
  if (held !== undefined) filters.held = held;
  if (boolParam(ctx, 'installed') === false) filters.none = true;
  return filters;
}

/**
 * The packages of every processor the caller can read, on this node: a summary, a search by name, and the count of
 * a search (read permission decides what is counted; nothing else is needed).
 */
export function packageRoutes({ sessions, inventory }: PackageRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);

  router.get('/packages/summary', async (ctx) => {
    ctx.body = await inventory.summary(await caller(ctx));
  });

  // Before any /packages/search/:x route would take "count".
  router.get('/packages/search/count', async (ctx) => {
    const user = await caller(ctx);
    const filters = filtersOf(ctx);
    ctx.body = filters.none ? { total: 0, byManager: {}, byType: {} } : await inventory.count(user, filters);
  });

  router.get('/packages/search', async (ctx) => {
    const user = await caller(ctx);
    const filters = filtersOf(ctx);
    const page = { limit: intParam(ctx, 'limit', 50, 1, 500), offset: intParam(ctx, 'offset', 0, 0, 1_000_000) };
    ctx.body = filters.none ? [] : await inventory.search(user, filters, page);
  });

  return router;
}
