import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Middleware } from 'koa';
import { InvalidInputError, NotFoundError } from '../domain/errors.ts';
import { CachedAnswer } from '../util/cached-answer.ts';
import { matchesEtag } from './answers.ts';

/**
 * The panel's files: `ui/` at the root of the checkout (beside `processors/`), the same folder whether procenv runs
 * from `src/` or from the compiled `dist/`, both one level under the root.
 */
export const PANEL_DIR = new URL('../../ui/', import.meta.url).pathname;

/** The URL prefix the panel is served under. */
export const PANEL_PATH = '/ui/';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * No inline script or style, nothing from another origin, no framing, and no form that could submit a token into a
 * URL (forms are handled by the panel's script; `form-action 'none'` blocks them if the script did not load).
 */
export const PANEL_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "manifest-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': PANEL_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

interface PanelFile {
  answer: CachedAnswer;
  type: string;
}

/**
 * The files that may be served, read once: a request names a key of this map or gets a 404, so no path it spells
 * (`..`, encoded slashes, NUL) can reach a file outside the folder. Only regular files with a known type are
 * listed; hidden files and links are not. Edits to the folder are seen after a restart.
 */
async function loadPanelFiles(dir: string): Promise<Map<string, PanelFile>> {
  const files = new Map<string, PanelFile>();
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && CONTENT_TYPES[extname(entry.name)]) {
        files.set(path, { answer: new CachedAnswer(await readFile(join(dir, path))), type: CONTENT_TYPES[extname(entry.name)]! });
      }
    }
  };
  await walk('');
  return files;
}

/**
 * Serves the environment panel under /ui/ (GET and HEAD), redirects `/` and `/ui` to it, and passes every other
 * request on. Every file answers with an ETag and `Cache-Control: no-cache` (file names carry no version, so the
 * browser asks again each time and gets a 304 while nothing changed), and with the panel's security headers.
 */
export function panelFiles(options: { dir?: string } = {}): Middleware {
  const dir = options.dir ?? PANEL_DIR;
  let files: Promise<Map<string, PanelFile>> | undefined;
  return async (ctx, next) => {
    const path = ctx.path;
    if (path === '/' || path === '/ui') {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
      ctx.redirect(PANEL_PATH);
      return;
    }
    if (!path.startsWith(PANEL_PATH)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      ctx.status = 405;
      ctx.body = { error: { code: 'METHOD_NOT_ALLOWED', message: `${ctx.method} is not allowed on the panel's files; allowed: GET, HEAD` } };
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(path.slice(PANEL_PATH.length));
    } catch (err) {
      throw new InvalidInputError('INVALID_PATH', 'the path is not valid URL encoding', { cause: err });
    }
    if (rel === '') rel = 'index.html';
    files ??= loadPanelFiles(dir).catch((err: unknown) => {
      files = undefined;
      throw err;
    });
    const file = (await files).get(rel);
    if (!file) throw new NotFoundError('PANEL_FILE_NOT_FOUND', `the panel has no file "${rel.slice(0, 100)}"`);
    ctx.set(SECURITY_HEADERS);
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('ETag', file.answer.etag);
    const conditional = ctx.get('if-none-match');
    if (conditional && matchesEtag(conditional, file.answer.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = file.type;
    ctx.body = file.answer.body;
  };
}
