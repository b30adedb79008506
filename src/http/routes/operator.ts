import Router from '@koa/router';
import { UnauthenticatedError } from '../../domain/errors.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import { keysMatch } from '../../nodes/cluster-headers.ts';

export interface Readiness {
  /** The parts that must work for this node to serve, each answering whether it does now. */
  checks: Record<string, () => Promise<boolean> | boolean>;
}

export interface OperatorRoutesDeps {
  readiness: Readiness;
  metrics?: Metrics;
  /** When set, GET /metrics wants `Authorization: Bearer <token>`. */
  metricsToken?: string;
}

/**
 * For operators and their tools: liveness, readiness and Prometheus metrics. No session is needed for /health and
 * /ready, and they say nothing beyond up or not and which part is not.
 */
export function operatorRoutes({ readiness, metrics, metricsToken }: OperatorRoutesDeps, router: Router = new Router()): Router {
  router.get('/health', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/ready', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const failing: string[] = [];
    await Promise.all(Object.entries(readiness.checks).map(async ([name, check]) => {
      const ok = await Promise.resolve().then(check).catch(() => false);
      if (!ok) failing.push(name);
    }));
    failing.sort();
    ctx.status = failing.length ? 503 : 200;
    ctx.body = failing.length ? { status: 'not ready', failing } : { status: 'ready' };
  });

  if (metrics) {
    router.get('/metrics', async (ctx) => {
      if (metricsToken) {
        const given = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1] ?? '';
        if (!keysMatch(given, metricsToken)) {
          ctx.set('WWW-Authenticate', 'Bearer');
          throw new UnauthenticatedError('GET /metrics needs Authorization: Bearer <the metrics token>');
        }
      }
      const { contentType, body } = await metrics.text();
      ctx.set('Cache-Control', 'no-store');
      ctx.type = contentType;
      ctx.body = body;
    });
  }
  return router;
}
