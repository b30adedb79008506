import type { Context } from 'koa';
import type { Caller } from '../domain/user.ts';
import type { SessionService } from '../services/sessions.ts';
import { requestHeader } from './params.ts';

/** Who sent this request: a session (`x-session-token`) or another node of the cluster (its key); 401 otherwise. */
export function requestCaller(sessions: SessionService, ctx: Context): Caller | Promise<Caller> {
  return sessions.authenticateRequest((name) => requestHeader(ctx, name));
}
