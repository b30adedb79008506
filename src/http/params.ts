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
  const value = ctx.query[name];
  if (Array.isArray(value)) {
    throw new InvalidInputError('REPEATED_PARAMETER', `query parameter "${name}" is given more than once`);
  }
  if (value !== undefined && value.length > MAX_PARAM_LENGTH) {
    throw new InvalidInputError('PARAMETER_TOO_LONG', `query parameter "${name}" is longer than ${MAX_PARAM_LENGTH} characters`);
  }
  if (options.required && (value === undefined || value.trim() === '')) {
    throw new InvalidInputError('MISSING_PARAMETER', `query parameter "${name}" is required`);
  }
  return value;
}
