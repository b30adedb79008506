import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { toErrorAnswer } from '../errors.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * One request: an id (the caller's `x-request-id` when it is sane), a child logger, and the error answer
 * `{ "error": { code, message } }` with the status of `http/errors.ts`. Unexpected errors are logged with
 * `{ err }` and answered 500 without internals; koa's `app.on('error')` is not reached for handled errors.
 */
export function requestContext(log: Logger): Middleware {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const reqId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.reqId = reqId;
    // The child logger is made only when something logs: listPackages at full speed never does.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= log.child({ reqId })), configurable: true, enumerable: true });
    ctx.set('x-request-id', reqId);
    const started = performance.now();
    try {
      await next();
    } catch (err) {
      const answer = toErrorAnswer(err);
      ctx.status = answer.status;
      ctx.body = answer.body;
      if (answer.unexpected) ctx.state.log.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      else if (answer.status >= 500) ctx.state.log.warn({ code: answer.body.error.code, path: ctx.path }, 'request answered 5xx');
    } finally {
      if (log.isLevelEnabled('debug')) {
        ctx.state.log.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
      }
    }
  };
}
