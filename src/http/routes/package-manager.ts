import Router from '@koa/router';
import type { Context } from 'koa';
import type { EnvironmentService } from '../../services/environments.ts';
import type { SessionService } from '../../services/sessions.ts';
import { HISTORY_EPOCH_HEADER } from '../../nodes/cluster-headers.ts';
import { MethodNotAllowedError } from '../../domain/errors.ts';
import { CachedAnswer } from '../../util/cached-answer.ts';
import { sendAnswer } from '../answers.ts';
import { ExactRoutes } from '../exact-routes.ts';
import { queryParam } from '../params.ts';
import { requestCaller } from '../caller.ts';

const NO_VERSION = CachedAnswer.of('');

export interface PackageManagerDeps {
  sessions: SessionService;
  environments: EnvironmentService;
}

/**
 * WASDI's `/packageManager` resource (reference §1): five GET endpoints behind `x-session-token`, with WASDI's
 * statuses. Deviations, all documented in the README: error answers carry a JSON body; a missing or repeated
 * required parameter is a 400; environmentupdate answers `{ processObjId }`; reset needs write permission.
 */
/**
 * environmentupdate and reset change state on a GET, as WASDI's do; @koa/router also runs GET handlers for HEAD,
 * and a HEAD (a link checker, a proxy probing) must never queue a change or delete the history.
 */
function refuseHead(ctx: Context): void {
  if (ctx.method === 'HEAD') {
    ctx.set('Allow', 'GET');
    throw new MethodNotAllowedError('METHOD_NOT_ALLOWED', 'HEAD is not allowed here: this GET changes state');
  }
}

export function packageManagerRoutes({ sessions, environments }: PackageManagerDeps, router: Router = new Router(), exact = new ExactRoutes()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);

  // The three reads every view makes are exact routes: a map lookup ahead of the router.
  exact.get(router, '/packageManager/listPackages', async (ctx) => {
    const user = await caller(ctx);
    const name = queryParam(ctx, 'name', { required: true });
    sendAnswer(ctx, await environments.listPackagesAnswer(user, name), { compress: true });
  });

  exact.get(router, '/packageManager/managerVersion', async (ctx) => {
    const user = await caller(ctx);
    const name = queryParam(ctx, 'name', { required: true });
    const version = await environments.managerVersion(user, name);
    // WASDI answers `Response.ok(null)`: 200 with an empty body when there is no snapshot (§1.3).
    sendAnswer(ctx, version === undefined ? NO_VERSION : CachedAnswer.of(JSON.stringify(version)));
  });

  exact.get(router, '/packageManager/environmentActions', async (ctx) => {
    const user = await caller(ctx);
    const name = queryParam(ctx, 'name', { required: true });
    const { answer, epoch } = await environments.environmentActions(user, name);
    ctx.set(HISTORY_EPOCH_HEADER, epoch);
    // A reset starts a new epoch, possibly with the same lines: the ETag names both.
    sendAnswer(ctx, answer, { compress: true, etag: `"${answer.etag.slice(1, -1)}.${epoch}"` });
  });

  router.get('/packageManager/environmentupdate', async (ctx) => {
    refuseHead(ctx);
    const user = await caller(ctx);
    const processorId = queryParam(ctx, 'processorId', { required: true });
    const workspace = queryParam(ctx, 'workspace') ?? '-';
    // A node-to-node delivery of a batch repeats updateCommand, in order; a user's call gives one at most.
    const given = ctx.query.updateCommand;
    const updateCommands = user.internal && Array.isArray(given) ? given : [queryParam(ctx, 'updateCommand') ?? ''];
    const { operation } = await environments.requestUpdate(user, { processorId, workspace, updateCommands });
    ctx.body = { processObjId: operation.processObjId };
  });

  router.get('/packageManager/reset', async (ctx) => {
    refuseHead(ctx);
    const user = await caller(ctx);
    const processorId = queryParam(ctx, 'processorId', { required: true });
    queryParam(ctx, 'workspace');
    await environments.reset(user, processorId);
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.body = '';
  });

  return router;
}
