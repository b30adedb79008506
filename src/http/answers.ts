import type { Context } from 'koa';
import type { CachedAnswer, ContentEncoding } from '../util/cached-answer.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Sends a ready JSON answer with its ETag: a request whose `If-None-Match` names it gets 304 and no body; a client
 * that accepts br or gzip gets the answer's compressed form (made once per answer, never per request), with `Vary:
 * Accept-Encoding` so that caches keep the forms apart.
 */
export function sendAnswer(ctx: Context, answer: CachedAnswer, options: { compress?: boolean; etag?: string } = {}): void {
  const etag = options.etag ?? answer.etag;
  // Headers go straight to node's response: koa's setters check and convert what is already right here.
  const res = ctx.res;
  res.setHeader('ETag', etag);
  if (options.compress) {
    // `vary` parses and rebuilds the header; nothing else sets one on these routes, but keep what would be there.
    if (res.hasHeader('Vary')) ctx.vary('Accept-Encoding');
    else res.setHeader('Vary', 'Accept-Encoding');
  }
  const conditional = ctx.req.headers['if-none-match'];
  if (conditional && matchesEtag(conditional, etag)) {
    ctx.status = 304;
    return;
  }
  ctx.status = 200;
  res.setHeader('Content-Type', JSON_TYPE);
  // No header, no negotiation: wrk, curl and WASDI's launchers send none, and the hot path stays a header lookup.
  const accepted = options.compress ? ctx.req.headers['accept-encoding'] : undefined;
  const encoding = accepted ? preferredEncoding(ctx, accepted) : undefined;
  if (encoding) {
    res.setHeader('Content-Encoding', encoding);
    ctx.body = answer.encodedAs(encoding);
  } else {
    ctx.body = answer.body;
  }
}

/** RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly (a `W/` prefix does not matter for GET). */
export function matchesEtag(header: string, etag: string): boolean {
  if (header === etag) return true;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}

/**
 * What each `Accept-Encoding` value seen asks for, negotiated once: clients send a handful of distinct values
 * (each browser its own, `gzip`, `identity`), so a request looks its value up instead of parsing it again.
 */
const negotiated = new Map<string, ContentEncoding | undefined>();
const NEGOTIATED_MAX = 256;

function preferredEncoding(ctx: Context, header: string): ContentEncoding | undefined {
  if (negotiated.has(header)) return negotiated.get(header);
  // Koa's negotiation honours q-values (`br;q=0` refuses br). br whenever it is acceptable at all: it is the
  // smaller form, and browsers list it last without ranking it lower.
  const encoding = ctx.acceptsEncodings('br') === 'br' ? 'br' : ctx.acceptsEncodings('gzip') === 'gzip' ? 'gzip' : undefined;
  // Bounded: a client making up values cannot grow it past NEGOTIATED_MAX.
  if (negotiated.size >= NEGOTIATED_MAX) negotiated.clear();
  negotiated.set(header, encoding);
  return encoding;
}
