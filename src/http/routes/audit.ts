import Router from '@koa/router';
import type { Context } from 'koa';
import { IGNORE_RULE_SHAPE } from '../../domain/audit-ignores.ts';
import { InvalidInputError } from '../../domain/errors.ts';
import { SEVERITY_LEVELS, type AuditFilters, type AuditService } from '../../services/audit.ts';
import type { SessionService } from '../../services/sessions.ts';
import { jsonBody } from '../json-body.ts';
import { boolParam, queryParam } from '../params.ts';
import { requestCaller } from '../caller.ts';

export interface AuditRoutesDeps {
  sessions: SessionService;
  audit: AuditService;
}

/** The audit's query filters: package, severity (a comma list of levels), ignored; GET /audit also processor. */
function filtersOf(ctx: Context, fleet: boolean): AuditFilters {
  const filters: AuditFilters = {};
  const pkg = queryParam(ctx, 'package');
  if (pkg !== undefined && pkg !== '') {
    if (pkg.length > 200) throw new InvalidInputError('INVALID_PARAMETER', 'query parameter "package" is longer than 200 characters');
    filters.package = pkg;
  }
  const severity = queryParam(ctx, 'severity');
  if (severity !== undefined && severity !== '') {
    const levels = severity.split(',').map((s) => s.trim().toUpperCase());
    const unknown = levels.find((l) => !SEVERITY_LEVELS.includes(l));
    if (unknown !== undefined) throw new InvalidInputError('INVALID_PARAMETER', `query parameter "severity" takes a comma list of ${SEVERITY_LEVELS.join(', ')}; got ${JSON.stringify(unknown.slice(0, 40))}`);
    filters.severity = levels;
  }
  if (boolParam(ctx, 'ignored') === true) filters.ignored = true;
  if (fleet) {
    const processor = queryParam(ctx, 'processor');
    if (processor !== undefined && processor !== '') filters.processor = processor;
  }
  return filters;
}

/**
 * The vulnerability audit: a processor's (read permission), every readable processor's, and the ignore rules
 * (a processor's: write permission on it; for every processor: an administrator).
 */
export function auditRoutes({ sessions, audit }: AuditRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);
  const json = jsonBody('8kb', IGNORE_RULE_SHAPE);

  router.get('/processors/:name/audit', async (ctx) => {
    const user = await caller(ctx);
    ctx.body = await audit.processorAudit(user, ctx.params.name!, filtersOf(ctx, false));
  });

  router.get('/audit', async (ctx) => {
    const user = await caller(ctx);
    ctx.body = await audit.fleetAudit(user, filtersOf(ctx, true));
  });

  router.get('/audit/ignores', async (ctx) => {
    ctx.body = await audit.listIgnoreRules(await caller(ctx));
  });

  router.post('/audit/ignores', async (ctx, next) => {
    ctx.state.caller = await caller(ctx);
    await next();
  }, json, async (ctx) => {
    if (!ctx.is('application/json')) throw new InvalidInputError('INVALID_BODY', `send the rule as application/json: ${IGNORE_RULE_SHAPE}`);
    ctx.status = 201;
    ctx.body = await audit.createIgnoreRule(ctx.state.caller, ctx.request.body);
  });

  router.delete('/audit/ignores/:id', async (ctx) => {
    await audit.removeIgnoreRule(await caller(ctx), ctx.params.id!);
    ctx.status = 204;
  });

  return router;
}
