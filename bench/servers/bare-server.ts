/**
 * The reference: a bare node:http server answering the same bytes and content-type as procenv's listPackages,
 * for the same path, with nothing else to do. The body is sent as a ready Buffer, as a hand-written server would.
 * Usage: node --import tsx bench/servers/bare-server.ts <bodyFile> <contentType>
 * Prints one JSON line `{ "url": … }` on stdout once it listens.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const [bodyFile, contentType] = process.argv.slice(2);
if (!bodyFile || !contentType) {
  process.stderr.write('usage: bare-server.ts <bodyFile> <contentType>\n');
  process.exit(2);
}
const body = readFileSync(bodyFile);
const PATH = '/packageManager/listPackages';
// procenv also sends an x-request-id (a UUID); the same header length keeps the bytes on the wire equal.
const REQUEST_ID = '00000000-0000-4000-8000-000000000000';

const server = createServer((req, res) => {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if ((q === -1 ? url : url.slice(0, q)) !== PATH) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'x-request-id': REQUEST_ID, 'content-type': contentType, 'content-length': body.length });
  res.end(body);
});
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
