import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import test from 'ava';
import { PANEL_CSP, PANEL_DIR } from '../../src/http/panel-files.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { assertError, rawGet } from './support.ts';

/** The panel's files as procenv serves them: from ui/ only, typed, revalidated, with a strict CSP. */

let svc: TestService;
test.before(async () => {
  svc = await startTestService({}, { worker: false });
});
test.after.always(async () => {
  await svc?.close();
});

function panelFiles(dir = PANEL_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? panelFiles(path) : [relative(PANEL_DIR, path)];
  });
}

const TYPES: Record<string, RegExp> = {
  '.html': /^text\/html; charset=utf-8$/,
  '.js': /^text\/javascript; charset=utf-8$/,
  '.css': /^text\/css; charset=utf-8$/,
  '.svg': /^image\/svg\+xml$/,
};

test('GET / and GET /ui redirect to the panel', async (t) => {
  for (const path of ['/', '/ui']) {
    const res = await rawGet(svc, path);
    t.is(res.status, 302, path);
    t.is(res.headers.location, '/ui/', path);
  }
});

test('GET /ui/ serves the panel page without a session, with a strict CSP and no caching without revalidation', async (t) => {
  const res = await rawGet(svc, '/ui/');
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), TYPES['.html']!);
  t.is(res.headers['content-security-policy'], PANEL_CSP);
  t.regex(PANEL_CSP, /script-src 'self'(;|$)/);
  t.notRegex(PANEL_CSP, /unsafe-inline|unsafe-eval|\*/);
  t.is(res.headers['x-content-type-options'], 'nosniff');
  t.is(res.headers['x-frame-options'], 'DENY');
  t.is(res.headers['referrer-policy'], 'no-referrer');
  t.is(res.headers['cache-control'], 'no-cache');
  t.truthy(res.headers.etag);
  t.true(res.body.includes('<script type="module" src="app.js"></script>'));
  t.is(res.body, readFileSync(join(PANEL_DIR, 'index.html'), 'utf8'));
});

test('every file of ui/ is served with the content type of its extension', async (t) => {
  const files = panelFiles();
  t.true(files.length >= 10, files.join(', '));
  for (const file of files) {
    const res = await rawGet(svc, `/ui/${file}`);
    t.is(res.status, 200, file);
    t.regex(String(res.headers['content-type']), TYPES[extname(file)] ?? /^$/, file);
    t.is(res.body, readFileSync(join(PANEL_DIR, file), 'utf8'), file);
  }
});

test('the panel has no inline script, inline style or event-handler attribute for the CSP to block', (t) => {
  for (const file of panelFiles().filter((f) => f.endsWith('.html') || f.endsWith('.js'))) {
    const text = readFileSync(join(PANEL_DIR, file), 'utf8');
    if (file.endsWith('.html')) {
      t.notRegex(text, /<script(?![^>]*\bsrc=)[^>]*>/, `${file}: a script without src`);
      t.notRegex(text, /\son[a-z]+=/i, `${file}: an on* attribute`);
      t.notRegex(text, /\sstyle=|<style/i, `${file}: inline style`);
    } else {
      t.notRegex(text, /innerHTML|outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function/, `${file}: HTML or code from strings`);
      t.notRegex(text, /setAttribute\(\s*['"]style['"]|\.style\s*=/, `${file}: inline style`);
    }
  }
});

test('If-None-Match with the current ETag answers 304 without a body', async (t) => {
  const first = await rawGet(svc, '/ui/app.js');
  const again = await rawGet(svc, '/ui/app.js', { 'if-none-match': String(first.headers.etag) });
  t.is(again.status, 304);
  t.is(again.body, '');
  t.is(again.headers.etag, first.headers.etag);
});

test('HEAD answers the headers of GET without a body', async (t) => {
  const res = await rawGet(svc, '/ui/style.css', {}, 'HEAD');
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), TYPES['.css']!);
  t.is(res.body, '');
});

test('a method other than GET or HEAD on the panel answers 405 with Allow', async (t) => {
  const res = await rawGet(svc, '/ui/index.html', {}, 'POST');
  assertError(t, res, 405, 'METHOD_NOT_ALLOWED');
  t.is(res.headers.allow, 'GET, HEAD');
});

test('an unknown panel file answers 404 in JSON', async (t) => {
  assertError(t, await rawGet(svc, '/ui/nothing-here.js'), 404, 'PANEL_FILE_NOT_FOUND');
  assertError(t, await rawGet(svc, '/ui/lib/'), 404, 'PANEL_FILE_NOT_FOUND');
});

// Paths written as an attacker sends them: raw dots, encoded dots and slashes, a NUL, doubled slashes.
const ESCAPES = [
  '/ui/../package.json',
  '/ui/../../../../etc/passwd',
  '/ui/%2e%2e/package.json',
  '/ui/%2E%2E%2Fpackage.json',
  '/ui/..%2fpackage.json',
  '/ui/..%5cpackage.json',
  '/ui/lib/../../package.json',
  '/ui/lib/%2e%2e/%2e%2e/src/cli.ts',
  '/ui/%2fetc%2fpasswd',
  '/ui//etc/passwd',
  '/ui/index.html%00.js',
];
for (const path of ESCAPES) {
  test(`${path} reaches no file outside ui/ (404)`, async (t) => {
    const res = await rawGet(svc, path);
    t.is(res.status, 404, res.body.slice(0, 200));
    t.false(res.body.includes('"dependencies"') || res.body.includes('root:'), 'nothing of the file outside leaks');
  });
}

test('a path that is not valid URL encoding answers 400', async (t) => {
  assertError(t, await rawGet(svc, '/ui/%ZZ'), 400, 'INVALID_PATH');
});

test('the JSON API is not affected: /packageManager still asks for a session', async (t) => {
  assertError(t, await rawGet(svc, '/packageManager/listPackages?name=sample_pip'), 401, 'UNAUTHENTICATED');
});
