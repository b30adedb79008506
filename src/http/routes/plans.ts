import Router from '@koa/router';
import type { Context } from 'koa';
import { ConflictError, InvalidInputError } from '../../domain/errors.ts';
import { viewOf } from '../../domain/operation.ts';
import type { PlanService } from '../../services/plans.ts';
import type { SessionService } from '../../services/sessions.ts';
import { jsonBody } from '../json-body.ts';
import { queryParam } from '../params.ts';
import { generationNumber } from './generations.ts';
import { requestCaller } from '../caller.ts';

export interface PlanRoutesDeps {
  sessions: SessionService;
  plans: PlanService;
}

/** `?plan=true` (or `1`): only the plan; absent or false: run it. */
function planOnly(ctx: Context): boolean {
  const raw = queryParam(ctx, 'plan');
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new InvalidInputError('INVALID_PARAMETER', `query parameter "plan" takes true or false; got ${JSON.stringify(raw.slice(0, 40))}`);
}

/**
 * Plans and restores (write permission on the processor): the change a list of commands would make, from the
 * manager's own dry run; a plan run as an operation while the environment is still the generation it was made on;
 * one call back to any generation, shown first as a plan when asked.
 */
export function planRoutes({ sessions, plans }: PlanRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);
  const json = jsonBody('64kb', '{ "commands": ["addPackage/<name>/", …] }');

  router.post('/processors/:name/plans', async (ctx, next) => {
    ctx.state.caller = await caller(ctx);
    await next();
  }, json, async (ctx) => {
    if (!ctx.is('application/json')) throw new InvalidInputError('INVALID_BODY', 'send the commands as application/json: { "commands": [ … ] }');
    const body = ctx.request.body as Record<string, unknown> | undefined;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidInputError('INVALID_BODY', 'the body must be a JSON object: { "commands": [ … ] }');
    const plan = await plans.create(ctx.state.caller, ctx.params.name!, body.commands);
    ctx.status = 201;
    ctx.set('Location', `/plans/${plan.planId}`);
    ctx.body = plan;
  });

  router.get('/plans/:id', async (ctx) => {
    ctx.body = await plans.get(await caller(ctx), ctx.params.id!);
  });

  router.post('/plans/:id/execute', async (ctx) => {
    const { operation, created } = await plans.execute(await caller(ctx), ctx.params.id!);
    ctx.status = 202;
    ctx.set('Location', `/operations/${operation.processObjId}`);
    if (!created) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = viewOf(operation);
  });

  router.post('/processors/:name/generations/:number/restore', async (ctx) => {
    const user = await caller(ctx);
    const number = generationNumber(ctx.params.number, 'the generation in the path');
    const only = planOnly(ctx);
    const plan = await plans.restorePlan(user, ctx.params.name!, number);
    if (only) {
      ctx.body = plan;
      return;
    }
    if (plan.commands.length === 0) {
      throw new ConflictError('NOTHING_TO_RESTORE', `the environment already has generation ${number}'s package set (generation ${plan.generation})`, {
        details: { generation: plan.generation, hash: plan.hash },
      });
    }
    const { operation } = await plans.execute(user, plan.planId);
    ctx.status = 202;
    ctx.set('Location', `/operations/${operation.processObjId}`);
    ctx.body = viewOf(operation);
  });

  return router;
}
