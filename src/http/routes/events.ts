import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError } from '../../domain/errors.ts';
import { isValidProcessorName } from '../../domain/processor.ts';
import type { StreamFilter } from '../../events/stream.ts';
import type { EventService } from '../../services/events.ts';
import type { SessionService } from '../../services/sessions.ts';
import { queryParam } from '../params.ts';

export interface EventRoutesDeps {
  sessions: SessionService;
  events: EventService;
}

/** Names that would carry a session token in a URL: refused, whatever their value, so nobody gets used to it. */
const TOKEN_PARAMETERS = ['token', 'session', 'sessionId', 'sessionToken', 'x-session-token'];

function filterOf(ctx: Context): StreamFilter {
  const raw = ctx.query.processor;
  const names = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (names.length > 100) throw new InvalidInputError('INVALID_PARAMETER', 'at most 100 processor filters');
  for (const n of names) {
    if (!isValidProcessorName(n)) throw new InvalidInputError('INVALID_PROCESSOR_NAME', `"${n.slice(0, 80)}" is not a processor name`);
  }
  const operation = queryParam(ctx, 'operation');
  if (operation !== undefined && !/^[A-Za-z0-9_-]{1,100}$/.test(operation)) throw new InvalidInputError('INVALID_PARAMETER', 'query parameter "operation" is not an operation id');
  return { ...(names.length ? { processors: new Set(names) } : {}), ...(operation !== undefined ? { operation } : {}) };
}

function lastEventIdOf(ctx: Context): number | undefined {
  const raw = ctx.get('last-event-id') || queryParam(ctx, 'lastEventId');
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new InvalidInputError('INVALID_LAST_EVENT_ID', 'Last-Event-ID must be the id of an event (a whole number)');
  return Number(raw);
}

/** The event stream (GET /events, Server-Sent Events) and its tickets (issue 8). */
export function eventRoutes({ sessions, events }: EventRoutesDeps, router: Router = new Router()): Router {
  router.post('/events/tickets', async (ctx) => {
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await events.ticket(ctx.get('x-session-token') || undefined);
  });

  router.get('/events', async (ctx) => {
    for (const name of TOKEN_PARAMETERS) {
      if (ctx.query[name] !== undefined) {
        throw new InvalidInputError('TOKEN_IN_URL', 'a session token is never accepted in a URL: send it as the x-session-token header, or use a ticket from POST /events/tickets');
      }
    }
    const ticket = queryParam(ctx, 'ticket');
    const filter = filterOf(ctx);
    const lastEventId = lastEventIdOf(ctx);
    const token = events.tokenOf(ctx.get('x-session-token') || undefined, ticket);
    const caller = await sessions.authenticate(token);
    await events.checkFilter(caller, filter);
    if (ctx.method === 'HEAD') {
      // The router answers HEAD with this GET handler: headers only, and no stream is held open for it.
      ctx.status = 200;
      ctx.type = 'text/event-stream';
      ctx.set('Cache-Control', 'no-cache');
      return;
    }
    events.openStream(caller, token, ctx.res, filter, lastEventId);
    // The stream writes to the response itself from here on; koa neither answers nor compresses it.
    ctx.respond = false;
  });

  return router;
}
