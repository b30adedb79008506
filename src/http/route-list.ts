import type Router from '@koa/router';
import type Koa from 'koa';

export interface RouteEntry {
  /** Upper case, as registered (HEAD, which @koa/router adds beside each GET, is left out). */
  method: string;
  /** The router's pattern (`/operations/:id`). */
  path: string;
}

/**
 * The routes a built app answers through its @koa/router: the router's `routes()` middleware carries its router, and
 * the router's stack holds one layer per route. Middleware that answers paths of its own (the panel's files) is not a
 * route and is not listed.
 */
export function listRoutes(app: Koa): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const middleware of app.middleware as { router?: Router }[]) {
    for (const layer of middleware.router?.stack ?? []) {
      // A RegExp route has no pattern to document; listed as its source, so that a test comparing with a document fails on it.
      for (const method of layer.methods) if (method !== 'HEAD') routes.push({ method, path: String(layer.path) });
    }
  }
  return routes;
}
