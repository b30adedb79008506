import { randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { NotFoundError } from '../../domain/errors.ts';
import type { Caller } from '../../domain/user.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import { toErrorAnswer } from '../errors.ts';
import type { ExactRoutes } from '../exact-routes.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Request ids made here: this process's random prefix and a counter, unique per process and cheaper than a UUID. */
const ID_PREFIX = randomBytes(6).toString('hex');
let sequence = 0;

/**
 * What a request carries through the middleware (`ctx.state`): its id, the caller once a route has authenticated
 * it, and a child logger made only when something logs (listPackages at full speed never does).
 */
export class RequestState {
  caller?: Caller;
  private child: Logger | undefined;

  constructor(private readonly parent: Logger, readonly reqId: string) {}

  get log(): Logger {
    return (this.child ??= this.parent.child({ reqId: this.reqId }));
  }
}

export interface RequestContextOptions {
  log: Logger;
  /** Counts every answer by route pattern, method and status, with its latency. */
  metrics?: Metrics;
  /** GET routes answered by their exact path, ahead of the router (the hot reads). */
  exact?: ExactRoutes;
}

/**
 * The first middleware of every request, in one function (each middleware more is a closure, a promise and a
 * dispatch per request): an id (the caller's `x-request-id` when it is sane), the exact-path routes, the answers
 * nobody gave (404, or 405 with the allowed methods), the error answer `{ "error": { code, message } }` with the
 * status of `http/errors.ts`, and the request metrics. Unexpected errors are logged with `{ err }` and answered 500
 * without internals; koa's `app.on('error')` is not reached for handled errors.
 */
export function requestContext({ log, metrics, exact }: RequestContextOptions): Middleware {
  const debug = log.isLevelEnabled('debug');
  return async (ctx, next) => {
    const started = metrics || debug ? performance.now() : 0;
    const given = ctx.req.headers['x-request-id'];
    const reqId = typeof given === 'string' && REQUEST_ID.test(given) ? given : `${ID_PREFIX}-${(++sequence).toString(36)}`;
    const state = new RequestState(log, reqId);
    ctx.state = state;
    ctx.res.setHeader('x-request-id', reqId);
    try {
      const route = exact?.match(ctx);
      if (route) {
        await route(ctx);
      } else {
        await next();
        if (ctx.status === 405 && ctx.body == null) {
          ctx.body = { error: { code: 'METHOD_NOT_ALLOWED', message: `${ctx.method} is not allowed here; allowed: ${ctx.response.get('Allow')}` } };
        } else if (ctx.status === 404 && ctx.body == null) {
          throw new NotFoundError('ROUTE_NOT_FOUND', `no route ${ctx.method} ${ctx.path.slice(0, 200)}`);
        }
      }
    } catch (err) {
      answerError(ctx, err, state);
    } finally {
      if (metrics) metrics.request(matchedRoute(ctx), ctx.method, ctx.status, (performance.now() - started) / 1000);
      if (debug) state.log.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
    }
  };
}

function answerError(ctx: Context, err: unknown, state: RequestState): void {
  const answer = toErrorAnswer(err);
  ctx.status = answer.status;
  ctx.body = answer.body;
  if (answer.unexpected) state.log.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
  else if (answer.status >= 500) state.log.warn({ code: answer.body.error.code, path: ctx.path }, 'request answered 5xx');
}

/** The route pattern that answered (set by @koa/router, or by the exact routes), never the raw path. */
function matchedRoute(ctx: Context): string {
  const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof route === 'string' ? route : 'unmatched';
}
