import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError } from '../../domain/errors.ts';
import type { ScheduleService } from '../../services/schedules.ts';
import type { SessionService } from '../../services/sessions.ts';
import { jsonBody } from '../json-body.ts';
import { requestCaller } from '../caller.ts';

export interface WindowRoutesDeps {
  sessions: SessionService;
  schedules: ScheduleService;
}

/** Maintenance windows: read by any authenticated user; created, changed and deleted by admins on the main node. */
export function windowRoutes({ sessions, schedules }: WindowRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);
  const json = jsonBody('4kb', '{ "schedule": "0 2 * * 6" | { "days": ["sat"], "time": "02:00" }, "durationMinutes": 120, "timezone": "Europe/Rome" }');

  router.get('/windows', async (ctx) => {
    ctx.body = await schedules.list(await caller(ctx));
  });

  router.get('/windows/:name', async (ctx) => {
    ctx.body = await schedules.get(await caller(ctx), ctx.params.name!);
  });

  // Authenticate before the body is read: an anonymous caller gets 401 whatever it sent.
  router.put('/windows/:name', async (ctx, next) => {
    ctx.state.caller = await caller(ctx);
    await next();
  }, json, async (ctx) => {
    if (!ctx.is('application/json')) throw new InvalidInputError('INVALID_BODY', 'send the window as application/json');
    const { window, created, replanned } = await schedules.put(ctx.state.caller, ctx.params.name!, ctx.request.body);
    ctx.status = created ? 201 : 200;
    ctx.set('Location', `/windows/${encodeURIComponent(window.name)}`);
    // How many waiting operations the change planned anew (0 for a new window).
    ctx.set('X-Replanned-Operations', String(replanned));
    ctx.body = window;
  });

  router.delete('/windows/:name', async (ctx) => {
    await schedules.remove(await caller(ctx), ctx.params.name!);
    ctx.status = 204;
  });

  return router;
}
