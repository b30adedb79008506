import got, { type Got, type Response } from 'got';
import { withoutCredentials } from '../domain/cluster.ts';
import { CLUSTER_KEY_HEADER, ORIGIN_OPERATION_HEADER, USER_HEADER, VIA_HEADER } from './cluster-headers.ts';

export interface PeerClientOptions {
  nodeCode: string;
  clusterKey: string;
  timeoutMs: number;
}

/** Joins a node's base address (which may carry a path, as WASDI's `…/rest/`) and a relative path. */
export function peerUrl(base: string, path: string): URL {
  return new URL(path.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`);
}

/**
 * The one got instance for node-to-node calls (verdaccio's proxy): a time limit per request, no automatic
 * retries (the fan-out schedules its own, durably), never throwing on an HTTP status, the cluster headers set.
 * The key travels only in the header; got's errors name the URL, never the headers.
 */
export class PeerClient {
  readonly http: Got;

  constructor(options: PeerClientOptions) {
    this.http = got.extend({
      timeout: { request: options.timeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      headers: { [CLUSTER_KEY_HEADER]: options.clusterKey, [VIA_HEADER]: options.nodeCode, 'user-agent': 'procenv-peer' },
    });
  }

  /** WASDI's fan-out call (reference §6), made durable by the caller. */
  environmentUpdate(base: string, args: { processorId: string; workspace: string; commands: string[]; userId: string; originOperationId: string }): Promise<Response<string>> {
    const url = peerUrl(base, 'packageManager/environmentupdate');
    url.searchParams.set('processorId', args.processorId);
    url.searchParams.set('workspace', args.workspace);
    for (const c of args.commands) url.searchParams.append('updateCommand', c);
    return this.http.get(url, { headers: { [USER_HEADER]: args.userId, [ORIGIN_OPERATION_HEADER]: args.originOperationId } });
  }

  getJson(base: string, path: string, searchParams?: Record<string, string>): Promise<Response<string>> {
    const url = peerUrl(base, path);
    for (const [k, v] of Object.entries(searchParams ?? {})) url.searchParams.set(k, v);
    return this.http.get(url);
  }

  postJson(base: string, path: string, body: unknown): Promise<Response<string>> {
    return this.http.post(peerUrl(base, path), { json: body });
  }
}

/**
 * A short, log-safe description of a failed peer call: got's messages may quote the URL, and a node's base address
 * may carry proxy credentials, so any URL userinfo is removed.
 */
export function describeFailure(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT') return 'timed out';
  if (e?.code) return withoutCredentials(String(e.code)).slice(0, 100);
  return withoutCredentials(e?.message ?? 'request failed').slice(0, 200);
}
