import type { Context } from 'koa';
import { InvalidInputError } from '../domain/errors.ts';

export const MAX_PARAM_LENGTH = 1024;

/**
 * One query parameter. A parameter given twice is refused (WASDI would take the first silently; two values for
 * one name is a client bug worth hearing about). Missing or empty required ones answer 400.
 */
export function queryParam(ctx: Context, name: string, options: { required: true }): string;
export function queryParam(ctx: Context, name: string, options?: { required?: false }): string | undefined;
export function queryParam(ctx: Context, name: string, options: { required?: boolean } = {}): string | undefined {
  const values = searchParams(ctx).getAll(name);
  if (values.length > 1) {
    throw new InvalidInputError('REPEATED_PARAMETER', `query parameter "${name}" is given more than once`);
  }
  const value = values[0];
  if (value !== undefined && value.length > MAX_PARAM_LENGTH) {
    throw new InvalidInputError('PARAMETER_TOO_LONG', `query parameter "${name}" is longer than ${MAX_PARAM_LENGTH} characters`);
  }
  if (options.required && (value === undefined || value.trim() === '')) {
    throw new InvalidInputError('MISSING_PARAMETER', `query parameter "${name}" is required`);
  }
  return value;
}

const SEARCH_PARAMS = Symbol('searchParams');

/**
 * The query, parsed once per request as koa's `ctx.query` parses it (URLSearchParams), without building koa's
 * object of every parameter: a route reads the one or two it takes.
 */
function searchParams(ctx: Context): URLSearchParams {
  const holder = ctx as { [SEARCH_PARAMS]?: URLSearchParams };
  return (holder[SEARCH_PARAMS] ??= new URLSearchParams(ctx.querystring));
}

/** A request header as koa's `ctx.get` answers it ('' when absent), read from node's headers without koa's getters. */
export function requestHeader(ctx: Context, name: string): string {
  const value = ctx.req.headers[name];
  return typeof value === 'string' ? value : value === undefined ? '' : value.join(', ');
}

/** An integer query parameter within bounds; absent → the default. */
export function intParam(ctx: Context, name: string, def: number, min: number, max: number): number {
  const raw = queryParam(ctx, name);
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new InvalidInputError('INVALID_PARAMETER', `query parameter "${name}" must be a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new InvalidInputError('INVALID_PARAMETER', `query parameter "${name}" must be between ${min} and ${max}`);
  return n;
}

/** A true/false query parameter (also 1/0); absent or empty → undefined. */
export function boolParam(ctx: Context, name: string): boolean | undefined {
  const raw = queryParam(ctx, name);
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new InvalidInputError('INVALID_PARAMETER', `query parameter "${name}" takes true or false; got ${JSON.stringify(raw.slice(0, 40))}`);
}

/** A time query parameter: ms since the epoch or an ISO 8601 date. */
export function timeParam(ctx: Context, name: string): number | undefined {
  const raw = queryParam(ctx, name);
  if (raw === undefined || raw === '') return undefined;
  const t = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(t)) throw new InvalidInputError('INVALID_PARAMETER', `query parameter "${name}" must be a date (ISO 8601) or ms since the epoch`);
  return t;
}

/** A comma-separated list of allowed values. */
export function listParam<T extends string>(ctx: Context, name: string, allowed: readonly T[]): T[] | undefined {
  const raw = queryParam(ctx, name);
  if (raw === undefined || raw === '') return undefined;
  const values = raw.split(',').map((s) => s.trim());
  for (const v of values) {
    if (!(allowed as readonly string[]).includes(v)) {
      throw new InvalidInputError('INVALID_PARAMETER', `query parameter "${name}" takes ${allowed.join(', ')}; got "${v.slice(0, 40)}"`);
    }
  }
  return values as T[];
}
