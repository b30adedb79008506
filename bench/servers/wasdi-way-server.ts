/**
 * WASDI's own way of answering listPackages, as a reference: every request reads the processor's
 * packagesInfo.json from disk, parses it and builds the answer again (the same bytes as procenv's). Nothing is
 * kept between requests and nobody is asked for a session, so what it costs is the per-request read and parse alone.
 * Usage: node --import tsx bench/servers/wasdi-way-server.ts <processorsDir> <contentType>
 * Prints one JSON line `{ "url": … }` on stdout once it listens.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { listPackagesAnswer } from './list-answer.mjs';
import { REQUEST_ID, listenAsReference } from './reference-answer.ts';

const [processorsDir, contentType] = process.argv.slice(2);
if (!processorsDir || !contentType) {
  process.stderr.write('usage: wasdi-way-server.ts <processorsDir> <contentType>\n');
  process.exit(2);
}
const PATH = '/packageManager/listPackages';

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const name = url.searchParams.get('name') ?? '';
  if (url.pathname !== PATH || !/^[A-Za-z0-9_-]+$/.test(name)) {
    res.writeHead(404).end();
    return;
  }
  readFile(join(processorsDir, name, 'packagesInfo.json'), 'utf8').then((text) => {
    const body = Buffer.from(listPackagesAnswer(JSON.parse(text)));
    res.writeHead(200, { 'x-request-id': REQUEST_ID, 'content-type': contentType, 'content-length': body.length });
    res.end(body);
  }).catch(() => res.writeHead(404).end());
});
listenAsReference(server);
