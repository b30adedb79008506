/**
 * The Koa floor: a minimal Koa app (koa and @koa/router, one route) answering the same bytes and headers as
 * procenv's listPackages, from a ready Buffer. Whatever procenv spends beyond this is procenv's own cost.
 * With an ETag and a gzip file it answers conditional and compressed requests the same way (see bare-server.ts).
 * Usage: node --import tsx bench/servers/koa-server.ts <bodyFile> <contentType> [<etag> <gzipFile>]
 * Prints one JSON line `{ "url": … }` on stdout once it listens.
 */
import { createServer } from 'node:http';
import { REQUEST_ID, listenAsReference, referenceAnswer } from './reference-answer.ts';
import Router from '@koa/router';
import Koa from 'koa';

const { body, contentType, etag, gzipped } = referenceAnswer('koa-server.ts');

const app = new Koa();
const router = new Router();
router.get('/packageManager/listPackages', (ctx) => {
  ctx.set('x-request-id', REQUEST_ID);
  if (etag) {
    ctx.set('ETag', etag);
    ctx.set('Vary', 'Accept-Encoding');
    if (ctx.get('if-none-match') === etag) {
      ctx.status = 304;
      return;
    }
  }
  ctx.type = contentType;
  if (gzipped && /\bgzip\b/.test(ctx.get('accept-encoding'))) {
    ctx.set('Content-Encoding', 'gzip');
    ctx.body = gzipped;
  } else {
    ctx.body = body;
  }
});
app.use(router.routes());
const server = createServer(app.callback());
listenAsReference(server);
