import type Router from '@koa/router';
import type { Context } from 'koa';

export type ExactHandler = (ctx: Context) => Promise<void> | void;

/**
 * GET routes with a fixed path (no parameters), answered by a map lookup in the first middleware instead of by the
 * router, which tries each of its patterns in turn and composes the matched layers for every request. These are
 * the reads WASDI's web client, its launchers and the panel make on every view (`listPackages` and its kin). Each
 * is registered in the router as well, so that other methods on the same path get the router's 405 with `Allow`,
 * and the route list and the OpenAPI checks see it.
 */
export class ExactRoutes {
  private readonly routes = new Map<string, ExactHandler>();

  /** Registers `handler` for GET (and HEAD, as @koa/router does) on `path`, here and in `router`. */
  get(router: Router, path: string, handler: ExactHandler): void {
    if (/[:*(?]/.test(path)) throw new Error(`an exact route has no parameters: ${path}`);
    this.routes.set(path, handler);
    router.get(path, async (ctx) => handler(ctx));
  }

  /** The handler for this request, if its method and exact path have one; the route's pattern is noted for the metrics. */
  match(ctx: Context): ExactHandler | undefined {
    const method = ctx.method;
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const path = ctx.path;
    const handler = this.routes.get(path);
    if (handler) (ctx as { _matchedRoute?: string })._matchedRoute = path;
    return handler;
  }
}
