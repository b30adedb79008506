import type { Context } from 'koa';
import type { CachedAnswer, ContentEncoding } from '../util/cached-answer.ts';

/**
 * Sends a ready JSON answer with its ETag: a request whose `If-None-Match` names it gets 304 and no body; a client
 * that accepts br or gzip gets the answer's compressed form (made once per answer, never per request), with `Vary:
 * Accept-Encoding` so that caches keep the forms apart.
 */
export function sendAnswer(ctx: Context, answer: CachedAnswer, options: { compress?: boolean; etag?: string } = {}): void {
  const etag = options.etag ?? answer.etag;
  ctx.set('ETag', etag);
  if (options.compress) ctx.vary('Accept-Encoding');
  const conditional = ctx.get('if-none-match');
  if (conditional && matchesEtag(conditional, etag)) {
    ctx.status = 304;
    return;
  }
  ctx.status = 200;
  ctx.type = 'application/json';
  // No header, no negotiation: wrk, curl and WASDI's launchers send none, and the hot path stays a header lookup.
  const encoding = options.compress && ctx.get('accept-encoding') ? preferredEncoding(ctx) : undefined;
  if (encoding) {
    ctx.set('Content-Encoding', encoding);
    ctx.body = answer.encodedAs(encoding);
  } else {
    ctx.body = answer.body;
  }
}

/** RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly (a `W/` prefix does not matter for GET). */
export function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}

function preferredEncoding(ctx: Context): ContentEncoding | undefined {
  // Koa's negotiation honours q-values (`br;q=0` refuses br). br whenever it is acceptable at all: it is the
  // smaller form, and browsers list it last without ranking it lower.
  if (ctx.acceptsEncodings('br') === 'br') return 'br';
  return ctx.acceptsEncodings('gzip') === 'gzip' ? 'gzip' : undefined;
}
