import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import test from 'ava';
import { CachedAnswer } from '../../src/util/cached-answer.ts';
import { SAMPLES, endpointPath, json, pollUntil, rawGet, serviceFor, tokenHeader, type Answer } from './support.ts';

// listPackages, managerVersion and environmentActions carry an ETag that changes with the snapshot or the history;
// If-None-Match with it answers 304 without a body. listPackages (and the history) are sent compressed to clients
// that accept it, compressed once per change, never per request.

const PIP = SAMPLES.pip;

/** A GET whose answer keeps its bytes as sent (rawGet decodes them as UTF-8). */
async function bytesOf(svc: Parameters<typeof rawGet>[0], path: string, headers: Record<string, string>): Promise<{ status: number; headers: Answer['headers']; bytes: Buffer }> {
  const { request } = await import('node:http');
  const url = new URL(svc.url);
  return new Promise((resolve, reject) => {
    request({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

test('listPackages answers an ETag, and If-None-Match with it answers 304 with no body', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  const first = await rawGet(svc, endpointPath('listPackages', PIP), auth);
  t.is(first.status, 200);
  const etag = String(first.headers.etag);
  t.regex(etag, /^"[A-Za-z0-9_-]+"$/);
  t.regex(String(first.headers.vary), /Accept-Encoding/i);

  for (const form of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const again = await rawGet(svc, endpointPath('listPackages', PIP), { ...auth, 'if-none-match': form });
    t.is(again.status, 304, form);
    t.is(again.body, '', `${form}: no body`);
    t.is(again.headers.etag, etag);
  }
  const stale = await rawGet(svc, endpointPath('listPackages', PIP), { ...auth, 'if-none-match': '"not-this-one"' });
  t.is(stale.status, 200);
  t.is(stale.body, first.body);
  // The ETag never answers for someone who may not read the processor.
  t.is((await rawGet(svc, endpointPath('listPackages', SAMPLES.oneshot), { ...tokenHeader(await svc.login('stranger')), 'if-none-match': '*' })).status, 403);
});

test('a changed snapshot changes the ETag and the compressed bytes', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  const before = await bytesOf(svc, endpointPath('listPackages', PIP), { ...auth, 'accept-encoding': 'gzip' });
  t.is(before.headers['content-encoding'], 'gzip');
  const plainBefore = json<{ packageName: string }[]>(await rawGet(svc, endpointPath('listPackages', PIP), auth));
  t.deepEqual(JSON.parse(gunzipSync(before.bytes).toString('utf8')), plainBefore);

  writeFileSync(join(svc.config.processorsDir, PIP.name, 'packagesInfo.json'), JSON.stringify({
    packageManager: { name: 'pip', version: '24.0', major: 24, minor: 0, patch: 0 },
    outdated: [], uptodate: [{ packageName: 'freshly-added', currentVersion: '1.0', latestVersion: null, type: null, channel: null }],
  }));
  const { value: after } = await pollUntil(
    () => bytesOf(svc, endpointPath('listPackages', PIP), { ...auth, 'accept-encoding': 'gzip' }),
    (r) => r.headers.etag !== before.headers.etag,
  );
  t.not(after.headers.etag, before.headers.etag);
  t.false(after.bytes.equals(before.bytes));
  t.deepEqual(JSON.parse(gunzipSync(after.bytes).toString('utf8')).map((p: { packageName: string }) => p.packageName), ['freshly-added']);
  // The old ETag no longer answers 304.
  t.is((await rawGet(svc, endpointPath('listPackages', PIP), { ...auth, 'if-none-match': String(before.headers.etag) })).status, 200);
});

test('br and gzip are chosen by Accept-Encoding with its q-values; none or identity gets the plain bytes', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  const plain = await bytesOf(svc, endpointPath('listPackages', PIP), auth);
  t.is(plain.headers['content-encoding'], undefined);
  const br = await bytesOf(svc, endpointPath('listPackages', PIP), { ...auth, 'accept-encoding': 'gzip, deflate, br' });
  t.is(br.headers['content-encoding'], 'br');
  t.true(brotliDecompressSync(br.bytes).equals(plain.bytes));
  const gzipOnly = await bytesOf(svc, endpointPath('listPackages', PIP), { ...auth, 'accept-encoding': 'br;q=0, gzip' });
  t.is(gzipOnly.headers['content-encoding'], 'gzip');
  t.true(gunzipSync(gzipOnly.bytes).equals(plain.bytes));
  const identity = await bytesOf(svc, endpointPath('listPackages', PIP), { ...auth, 'accept-encoding': 'identity' });
  t.is(identity.headers['content-encoding'], undefined);
  t.true(identity.bytes.equals(plain.bytes));
});

test('a compressed form is made once per answer and then reused', (t) => {
  const answer = CachedAnswer.of(JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ packageName: `p${i}`, currentVersion: '1.0' }))));
  const gz = answer.encodedAs('gzip');
  t.is(answer.encodedAs('gzip'), gz, 'the same bytes, not compressed again');
  t.true(gz.length < answer.body.length / 3);
  t.is(answer.encodedAs('br'), answer.encodedAs('br'));
});

test('managerVersion and environmentActions answer 304 to their ETag; a reset changes the history\'s ETag', async (t) => {
  const svc = await serviceFor(t);
  const auth = tokenHeader(await svc.login('demo'));
  for (const endpoint of ['managerVersion', 'environmentActions'] as const) {
    const first = await rawGet(svc, endpointPath(endpoint, PIP), auth);
    t.is(first.status, 200, endpoint);
    const etag = String(first.headers.etag);
    t.regex(etag, /^".+"$/, endpoint);
    t.is((await rawGet(svc, endpointPath(endpoint, PIP), { ...auth, 'if-none-match': etag })).status, 304, endpoint);
  }
  const history = await rawGet(svc, endpointPath('environmentActions', PIP), auth);
  t.true(json<string[]>(history).length > 0, 'the sample has a history');
  t.is((await rawGet(svc, endpointPath('reset', PIP), auth)).status, 200);
  const afterReset = await rawGet(svc, endpointPath('environmentActions', PIP), { ...auth, 'if-none-match': String(history.headers.etag) });
  t.is(afterReset.status, 200);
  t.deepEqual(json(afterReset), []);
  t.not(afterReset.headers.etag, history.headers.etag);
});
