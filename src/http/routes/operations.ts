import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError } from '../../domain/errors.ts';
import { OPERATION_STATUSES } from '../../domain/operation.ts';
import { parseSchedule, type ScheduleRequest } from '../../domain/schedules.ts';
import { viewOf, type ListQuery, type OperationService } from '../../services/operations.ts';
import type { SessionService } from '../../services/sessions.ts';
import { jsonBody } from '../json-body.ts';
import { intParam, listParam, queryParam, timeParam } from '../params.ts';
import { requestCaller } from '../caller.ts';

export interface OperationRoutesDeps {
  sessions: SessionService;
  operations: OperationService;
}

function listQuery(ctx: Context): Omit<ListQuery, 'processor'> {
  const query: Omit<ListQuery, 'processor'> = { limit: intParam(ctx, 'limit', 50, 1, 500), offset: intParam(ctx, 'offset', 0, 0, 1_000_000) };
  const status = listParam(ctx, 'status', OPERATION_STATUSES);
  const user = queryParam(ctx, 'user');
  const since = timeParam(ctx, 'since');
  const until = timeParam(ctx, 'until');
  if (status) query.status = status;
  if (user) query.user = user;
  if (since !== undefined) query.since = since;
  if (until !== undefined) query.until = until;
  return query;
}

/** The commands of a JSON request: `{ "commands": ["addPackage/numpy/", …] }` or `{ "updateCommand": "…" }`. */
function commandsOf(body: unknown): { commands: string[]; workspace: string; rollbackOnFailure: boolean; schedule?: ScheduleRequest } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError('INVALID_BODY', 'the body must be a JSON object: { "commands": ["addPackage/<name>/", …] }');
  }
  const b = body as Record<string, unknown>;
  const workspace = b.workspace === undefined ? '-' : b.workspace;
  if (typeof workspace !== 'string' || workspace.length > 200) throw new InvalidInputError('INVALID_BODY', '"workspace" must be a string');
  if (b.rollbackOnFailure !== undefined && typeof b.rollbackOnFailure !== 'boolean') throw new InvalidInputError('INVALID_BODY', '"rollbackOnFailure" must be true or false');
  const rollbackOnFailure = b.rollbackOnFailure === true;
  const schedule = parseSchedule(b);
  const rest = { workspace, rollbackOnFailure, ...(schedule ? { schedule } : {}) };
  if (b.commands !== undefined) {
    if (!Array.isArray(b.commands) || !b.commands.every((c) => typeof c === 'string')) {
      throw new InvalidInputError('INVALID_BODY', '"commands" must be a list of update commands (strings)');
    }
    return { commands: b.commands as string[], ...rest };
  }
  if (typeof b.updateCommand === 'string') return { commands: [b.updateCommand], ...rest };
  throw new InvalidInputError('INVALID_BODY', 'give "commands": a list of update commands (an empty list is a refresh)');
}

/** procenv's JSON operation API (issue "ENVIRONMENTUPDATE for real"). */
export function operationRoutes({ sessions, operations }: OperationRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);
  const json = jsonBody('64kb', '{ "commands": ["addPackage/<name>/", …] }');

  router.get('/operations', async (ctx) => {
    const user = await caller(ctx);
    const processor = queryParam(ctx, 'processor');
    const ops = await operations.list(user, { ...listQuery(ctx), ...(processor ? { processor } : {}) });
    ctx.body = ops.map(viewOf);
  });

  router.get('/operations/:id', async (ctx) => {
    const op = await operations.get(await caller(ctx), ctx.params.id!);
    const nodes = await operations.deliveriesOf(op.processObjId);
    ctx.body = { ...viewOf(op), ...(nodes.length ? { nodes } : {}) };
  });

  router.get('/operations/:id/log', async (ctx) => {
    const user = await caller(ctx);
    ctx.body = await operations.log(user, ctx.params.id!, intParam(ctx, 'after', 0, 0, Number.MAX_SAFE_INTEGER), intParam(ctx, 'limit', 10_000, 1, 10_000));
  });

  router.post('/operations/:id/cancel', async (ctx) => {
    ctx.body = viewOf(await operations.cancel(await caller(ctx), ctx.params.id!));
  });

  // Authenticate before the body is read: an anonymous caller gets 401 whatever it sent.
  router.post('/processors/:name/operations', async (ctx, next) => {
    ctx.state.caller = await caller(ctx);
    await next();
  }, json, async (ctx) => {
    const user = ctx.state.caller;
    if (!ctx.is('application/json')) throw new InvalidInputError('INVALID_BODY', 'send the commands as application/json');
    const { commands, workspace, rollbackOnFailure, schedule } = commandsOf(ctx.request.body);
    const key = ctx.get('idempotency-key') || undefined;
    const { operation, created } = await operations.submit(user, ctx.params.name!, commands, workspace, key, { rollbackOnFailure, ...(schedule ? { schedule } : {}) });
    ctx.status = 202;
    ctx.set('Location', `/operations/${operation.processObjId}`);
    if (!created) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = viewOf(operation);
  });

  router.get('/processors/:name/history', async (ctx) => {
    const user = await caller(ctx);
    ctx.body = (await operations.history(user, ctx.params.name!, listQuery(ctx))).map(viewOf);
  });

  return router;
}
