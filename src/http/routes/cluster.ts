import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../../domain/errors.ts';
import { requireNodeCode } from '../../domain/cluster.ts';
import type { Caller } from '../../domain/user.ts';
import type { FanoutService } from '../../nodes/fanout.ts';
import type { ClusterStatus } from '../../nodes/status.ts';
import type { SyncService } from '../../nodes/sync.ts';
import type { EnvironmentService } from '../../services/environments.ts';
import type { GenerationService } from '../../services/generations.ts';
import type { SessionService } from '../../services/sessions.ts';
import type { Store } from '../../store/types.ts';
import { intParam } from '../params.ts';
import { requestCaller } from '../caller.ts';

export interface ClusterRoutesDeps {
  sessions: SessionService;
  environments: EnvironmentService;
  store: Store;
  nodeCode: string;
  status?: ClusterStatus;
  fanout?: FanoutService;
  sync?: SyncService;
  /** The newest generation of each processor on this node, which the sync position carries. */
  generations?: Pick<GenerationService, 'latest'>;
}

/**
 * The cluster's routes. For people: GET /nodes (admins: the cluster's layout) and GET /processors/:name/nodes (read
 * permission on the processor), both on the main node. For nodes only
 * (cluster key): /cluster/ping, the main node's history with the operation behind each line, a compute node's sync
 * position with its newest generation, and the report of a delivered change.
 */
export function clusterRoutes(deps: ClusterRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(deps.sessions, ctx);
  const internal = async (ctx: Context): Promise<Caller> => {
    const c = await caller(ctx);
    if (!c.internal) throw new ForbiddenError('CLUSTER_ONLY', 'this route is for node-to-node calls (cluster key)');
    return c;
  };
  const absent = (what: string) => new NotFoundError('NOT_ON_THIS_NODE', `${what} is not served by this node`);

  router.get('/nodes', async (ctx) => {
    const user = await caller(ctx);
    if (!user.admin) throw new ForbiddenError('ADMIN_ONLY', 'the node list is for administrators');
    if (!deps.status) throw absent('the node list');
    ctx.body = await deps.status.nodes();
  });

  router.get('/processors/:name/nodes', async (ctx) => {
    const user = await caller(ctx);
    if (!deps.status) throw absent('the node status');
    ctx.body = await deps.status.processorNodes(user, ctx.params.name!);
  });

  router.get('/cluster/ping', async (ctx) => {
    await internal(ctx);
    ctx.body = { nodeCode: deps.nodeCode };
  });

  router.get('/cluster/processors/:name/history', async (ctx) => {
    const user = await internal(ctx);
    ctx.body = await deps.environments.clusterHistory(user, ctx.params.name!, intParam(ctx, 'from', 0, 0, 1_000_000_000));
  });

  router.get('/cluster/processors/:name/sync', async (ctx) => {
    await internal(ctx);
    if (!(await deps.store.findProcessorByName(ctx.params.name!))) throw new NotFoundError('PROCESSOR_NOT_FOUND', 'the processor is not on this node');
    const [state, generation] = await Promise.all([deps.sync?.position(ctx.params.name!), deps.generations?.latest(ctx.params.name!)]);
    ctx.body = {
      ...(state ?? { processorName: ctx.params.name, epoch: '', applied: 0 }),
      // What this node's environment holds, so that the main node can tell a node in step by history but not by content.
      ...(generation ? { generation: { number: generation.number, hash: generation.hash } } : {}),
    };
  });

  router.post('/cluster/deliveries/:operationId/:nodeCode', async (ctx, next) => {
    await internal(ctx);
    await next();
  }, bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' }), async (ctx) => {
    if (!deps.fanout) throw absent('delivery reports');
    requireNodeCode(ctx.params.nodeCode!);
    const body = ctx.request.body as { status?: unknown; remoteOperationId?: unknown; error?: unknown } | undefined;
    // Only an end is a report: anything else would mark the delivery failed.
    if (!body || typeof body.status !== 'string' || !['DONE', 'ERROR', 'STOPPED'].includes(body.status)) throw new InvalidInputError('INVALID_BODY', 'give { "status": "DONE" | "ERROR" | "STOPPED", "remoteOperationId"?, "error"? }');
    const updated = await deps.fanout.report(ctx.params.operationId!, ctx.params.nodeCode!, {
      status: body.status,
      ...(typeof body.remoteOperationId === 'string' ? { remoteOperationId: body.remoteOperationId } : {}),
      ...(typeof body.error === 'string' ? { error: body.error.slice(0, 1000) } : {}),
    });
    ctx.body = { recorded: Boolean(updated) };
  });

  return router;
}
