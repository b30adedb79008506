import Router from '@koa/router';
import type { Context } from 'koa';
import type { EnvironmentService } from '../../services/environments.ts';
import type { ProcessorSummaryService } from '../../services/processor-summaries.ts';
import type { SessionService } from '../../services/sessions.ts';
import { requestCaller } from '../caller.ts';

export interface ProcessorRoutesDeps {
  sessions: SessionService;
  environments: Pick<EnvironmentService, 'nodeCode' | 'isMainNode'>;
  summaries: ProcessorSummaryService;
}

/**
 * What the environment panel reads first: who the caller is (GET /me), the processors they can read with their
 * rights, package counts and last operation (GET /processors), and one of them (GET /processors/:name).
 */
export function processorRoutes({ sessions, environments, summaries }: ProcessorRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);

  router.get('/me', async (ctx) => {
    const user = await caller(ctx);
    ctx.body = { userId: user.userId, admin: user.admin, mainNode: environments.isMainNode, nodeCode: environments.nodeCode };
  });

  router.get('/processors', async (ctx) => {
    ctx.body = await summaries.list(await caller(ctx));
  });

  router.get('/processors/:name', async (ctx) => {
    ctx.body = await summaries.get(await caller(ctx), ctx.params.name!);
  });

  return router;
}
