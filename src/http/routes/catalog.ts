import Router from '@koa/router';
import type { Context } from 'koa';
import type { ProcessorCatalog } from '../../catalog/catalog.ts';
import { ForbiddenError } from '../../domain/errors.ts';
import type { SessionService } from '../../services/sessions.ts';
import { requestCaller } from '../caller.ts';

export interface CatalogRoutesDeps {
  sessions: SessionService;
  catalog: Pick<ProcessorCatalog, 'problems'>;
}

/**
 * GET /catalog/problems (admins): the processor folders and files procenv refuses, with the reason and since
 * when. A tenant's folder may name other tenants' files or processors in its reasons, so plain users get 403.
 */
export function catalogRoutes({ sessions, catalog }: CatalogRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);
  router.get('/catalog/problems', async (ctx) => {
    const user = await caller(ctx);
    if (!user.admin) throw new ForbiddenError('ADMIN_ONLY', 'the catalog problems are for admins');
    ctx.body = catalog.problems();
  });
  return router;
}
