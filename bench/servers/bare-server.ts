/**
 * The reference: a bare node:http server answering the same bytes and content-type as procenv's listPackages,
 * for the same path, with nothing else to do. The body is sent as a ready Buffer, as a hand-written server would.
 * With an ETag it answers `If-None-Match` with 304, and with a gzip file it sends that to clients that accept gzip,
 * so that procenv's conditional and compressed paths have the same reference.
 * Usage: node --import tsx bench/servers/bare-server.ts <bodyFile> <contentType> [<etag> <gzipFile>]
 * Prints one JSON line `{ "url": … }` on stdout once it listens.
 */
import { createServer } from 'node:http';
import { REQUEST_ID, listenAsReference, referenceAnswer } from './reference-answer.ts';

const { body, contentType, etag, gzipped } = referenceAnswer('bare-server.ts');
const PATH = '/packageManager/listPackages';

const server = createServer((req, res) => {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if ((q === -1 ? url : url.slice(0, q)) !== PATH) {
    res.writeHead(404).end();
    return;
  }
  if (etag && req.headers['if-none-match'] === etag) {
    res.writeHead(304, { 'x-request-id': REQUEST_ID, etag, vary: 'Accept-Encoding' }).end();
    return;
  }
  const gzip = gzipped !== undefined && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  const out = gzip ? gzipped : body;
  res.writeHead(200, {
    'x-request-id': REQUEST_ID, 'content-type': contentType, 'content-length': out.length,
    ...(etag ? { etag, vary: 'Accept-Encoding' } : {}), ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(out);
});
listenAsReference(server);
