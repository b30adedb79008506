import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError } from '../../domain/errors.ts';
import type { BatchService } from '../../services/batches.ts';
import type { SessionService } from '../../services/sessions.ts';
import type { UpdatesService } from '../../services/updates.ts';
import { jsonBody } from '../json-body.ts';
import { boolParam, intParam } from '../params.ts';
import { requestCaller } from '../caller.ts';

export interface BatchRoutesDeps {
  sessions: SessionService;
  batches: BatchService;
  updates: UpdatesService;
}

/** Batches of changes across processors, and the updates available to them (the fleet issue). */
export function batchRoutes({ sessions, batches, updates }: BatchRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);
  const batchJson = jsonBody('256kb', '{ "processors": [names] | "all", "action": "upgrade-all" | "security" | "install" | "upgrade" | "remove", "packages"?: ["name", "name==version"] }');
  const checkJson = jsonBody('256kb', '{ "processors"?: [names] }');
  // Authenticate before the body is read: an anonymous caller gets 401 whatever it sent.
  const authenticated = async (ctx: Context, next: () => Promise<unknown>) => {
    ctx.state.caller = await caller(ctx);
    await next();
  };
  const jsonOnly = (ctx: Context, shape: string) => {
    if (ctx.request.length && !ctx.is('application/json')) throw new InvalidInputError('INVALID_BODY', `send ${shape} as application/json`);
  };

  router.post('/batches', authenticated, batchJson, async (ctx) => {
    jsonOnly(ctx, 'the batch');
    const batch = await batches.create(ctx.state.caller, ctx.request.body);
    ctx.status = 202;
    ctx.set('Location', `/batches/${batch.batchId}`);
    ctx.body = batch;
  });

  router.get('/batches', async (ctx) => {
    ctx.body = await batches.list(await caller(ctx), { limit: intParam(ctx, 'limit', 50, 1, 500), offset: intParam(ctx, 'offset', 0, 0, 1_000_000) });
  });

  router.get('/batches/:id', async (ctx) => {
    ctx.body = await batches.get(await caller(ctx), ctx.params.id!);
  });

  router.post('/batches/:id/cancel', async (ctx) => {
    ctx.body = await batches.cancel(await caller(ctx), ctx.params.id!);
  });

  router.get('/updates', async (ctx) => {
    const user = await caller(ctx);
    ctx.body = await updates.list(user, { all: boolParam(ctx, 'all') === true, securityOnly: boolParam(ctx, 'security') === true });
  });

  router.get('/updates/:processor', async (ctx) => {
    ctx.body = await updates.forProcessor(await caller(ctx), ctx.params.processor!);
  });

  router.post('/updates/check', authenticated, checkJson, async (ctx) => {
    jsonOnly(ctx, '{ "processors"?: [names] }');
    ctx.status = 202;
    ctx.body = await updates.check(ctx.state.caller, ctx.request.length ? ctx.request.body : undefined);
  });

  return router;
}
