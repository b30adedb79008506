import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError } from '../../domain/errors.ts';
import type { HoldService } from '../../services/holds.ts';
import type { SessionService } from '../../services/sessions.ts';
import { jsonBody } from '../json-body.ts';
import { requestCaller } from '../caller.ts';

export interface HoldRoutesDeps {
  sessions: SessionService;
  holds: HoldService;
}

/** Holds of a processor's packages: read with read permission; placed and lifted on the main node with write permission. */
export function holdRoutes({ sessions, holds }: HoldRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);
  const json = jsonBody('4kb', '{ "reason": "…" }');

  router.get('/processors/:name/holds', async (ctx) => {
    ctx.body = await holds.list(await caller(ctx), ctx.params.name!);
  });

  router.put('/processors/:name/holds/:package', async (ctx, next) => {
    ctx.state.caller = await caller(ctx);
    await next();
  }, json, async (ctx) => {
    if (!ctx.is('application/json')) throw new InvalidInputError('INVALID_BODY', 'send the reason as application/json: { "reason": "…" }');
    const { hold, created } = await holds.put(ctx.state.caller, ctx.params.name!, ctx.params.package!, ctx.request.body);
    ctx.status = created ? 201 : 200;
    ctx.body = hold;
  });

  router.delete('/processors/:name/holds/:package', async (ctx) => {
    await holds.remove(await caller(ctx), ctx.params.name!, ctx.params.package!);
    ctx.status = 204;
  });

  return router;
}
