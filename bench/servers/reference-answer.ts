import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** procenv also sends an x-request-id (a UUID); the references send one of the same length, so the bytes match. */
export const REQUEST_ID = '00000000-0000-4000-8000-000000000000';

/**
 * The answer a reference server sends, from its arguments `<bodyFile> <contentType> [<etag> <gzipFile>]`: the
 * bytes procenv answered, and with an ETag and a gzip file, what it answers to If-None-Match and gzip clients.
 */
export function referenceAnswer(script: string): { body: Buffer; contentType: string; etag?: string; gzipped?: Buffer } {
  const [bodyFile, contentType, etag, gzipFile] = process.argv.slice(2);
  if (!bodyFile || !contentType) {
    process.stderr.write(`usage: ${script} <bodyFile> <contentType> [<etag> <gzipFile>]\n`);
    process.exit(2);
  }
  return { body: readFileSync(bodyFile), contentType, ...(etag ? { etag } : {}), ...(gzipFile ? { gzipped: readFileSync(gzipFile) } : {}) };
}

/**
 * Starts a reference server as the benches expect (bench/servers/child.ts startChild): kept-alive connections as
 * procenv keeps them, port 0 on loopback, one `{ "url": … }` line on stdout once it listens, and a stop on SIGTERM.
 */
export function listenAsReference(server: Server): void {
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  });
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    server.closeAllConnections();
  });
}
