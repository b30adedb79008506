/**
 * The floor of bench/scale: a plain Node process (no TypeScript loader, no framework) that reads every processor's
 * packagesInfo.json, parses it, joins and sorts its lists as listPackages does, and keeps each answer as a Buffer.
 * Whatever procenv needs beyond this to serve the same answers is its own cost.
 * Usage: node bench/servers/scale-reference.mjs <processorsDir>
 * Prints one JSON line `{ "ready": true, "processors": N, "bytes": B }` on stdout once every answer is kept, then
 * waits for SIGTERM (so that its RSS can be read from /proc).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listPackagesAnswer } from './list-answer.mjs';

const [dir] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: scale-reference.mjs <processorsDir>\n');
  process.exit(2);
}

const answers = new Map();
let bytes = 0;
for (const name of readdirSync(dir)) {
  const info = JSON.parse(readFileSync(join(dir, name, 'packagesInfo.json'), 'utf8'));
  const body = Buffer.from(listPackagesAnswer(info));
  bytes += body.length;
  answers.set(name, body);
}
process.stdout.write(`${JSON.stringify({ ready: true, processors: answers.size, bytes })}\n`);
process.once('SIGTERM', () => process.exit(0));
setInterval(() => answers.size, 1 << 30);
