// @ts-check
// procenv's JSON API as the panel calls it: the session token in the x-session-token header (never in a URL), and
// every failure as an ApiError carrying the API's own message, so that the panel can show it in words.

export class ApiError extends Error {
  /**
   * @param {string} message what went wrong, in words
   * @param {{ status?: number, code?: string, details?: any }} [options] status 0 with code NETWORK: procenv could not be reached
   */
  constructor(message, options = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = options.status ?? 0;
    this.code = options.code ?? 'NETWORK';
    /** The error's `details` as procenv sent them (a STALE_PLAN's `changedSince`), or undefined. */
    this.details = options.details;
  }
}

/**
 * @typedef {{
 *   query?: Record<string, string | number | undefined>,
 *   body?: unknown,
 *   headers?: Record<string, string>,
 * }} RequestOptions
 */

export class Api {
  constructor() {
    /** @type {string | null} */
    this.token = null;
    /** Called when procenv answers 401: the session is gone. @type {(message: string) => void} */
    this.onUnauthenticated = () => {};
    /** Called with false when a request could not reach procenv, and true when one did again. @type {(reachable: boolean) => void} */
    this.onReachable = () => {};
    this.reachable = true;
  }

  /** @param {string | null} token */
  setToken(token) {
    this.token = token;
  }

  /** @param {string} path @param {RequestOptions['query']} [query] */
  get(path, query) {
    return this.request('GET', path, { query });
  }

  /** @param {string} path @param {unknown} [body] @param {Record<string, string>} [headers] */
  post(path, body, headers) {
    return this.request('POST', path, { body, headers });
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} the JSON answer; null for an empty one
   */
  async request(method, path, options = {}) {
    const res = await this.send(method, path, 'application/json', options);
    return parseJson(await res.text().catch(() => ''));
  }

  /**
   * A file procenv answers as an attachment. It needs the session header, so no plain link can fetch it: the page
   * reads it here and saves it from a Blob.
   * @param {string} path
   * @param {RequestOptions['query']} [query]
   * @returns {Promise<{ blob: Blob, filename: string }>} the file name from Content-Disposition
   */
  async download(path, query) {
    const res = await this.send('GET', path, '*/*', { query });
    const filename = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'download';
    return { blob: await res.blob(), filename };
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {string} accept
   * @param {RequestOptions} options
   * @returns {Promise<Response>} a 2xx answer; anything else is thrown as an ApiError
   */
  async send(method, path, accept, options) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== '') params.set(key, String(value));
    }
    const url = params.size ? `${path}?${params}` : path;
    /** @type {Record<string, string>} */
    const headers = { accept, ...options.headers };
    if (this.token) headers['x-session-token'] = this.token;
    /** @type {RequestInit} */
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch {
      this.setReachable(false);
      throw new ApiError('procenv cannot be reached at the moment; the panel keeps trying', { status: 0, code: 'NETWORK' });
    }
    this.setReachable(true);
    if (res.ok) return res;
    const body = parseJson(await res.text().catch(() => ''));
    const error = body && typeof body === 'object' && body.error && typeof body.error.message === 'string' ? body.error : undefined;
    const message = error?.message ?? `procenv answered with an error it did not explain (HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''})`;
    const err = new ApiError(message, { status: res.status, code: error?.code ?? `HTTP_${res.status}`, details: error?.details });
    if (res.status === 401) this.onUnauthenticated(message);
    throw err;
  }

  /** @param {boolean} reachable */
  setReachable(reachable) {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    this.onReachable(reachable);
  }
}

/**
 * @param {string} text
 * @returns {any} the JSON value; null for an empty or unreadable body
 */
function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * A random key for Idempotency-Key: a click that is sent twice queues one operation. (getRandomValues, not
 * randomUUID: the panel may be served over plain HTTP, where randomUUID does not exist.)
 */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
