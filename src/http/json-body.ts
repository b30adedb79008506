import { bodyParser } from '@koa/bodyparser';
import { InvalidInputError } from '../domain/errors.ts';

/**
 * A JSON body parser whose own errors are in procenv's words: a body that is not a JSON object (malformed, a bare
 * value, a `__proto__` key) is a 400 INVALID_BODY saying so and what to send (`shape`); a body over `limit` keeps
 * its 413.
 */
export function jsonBody(limit: string, shape: string) {
  return bodyParser({
    enableTypes: ['json'], jsonLimit: limit, encoding: 'utf-8',
    onError: (err) => {
      if ((err as { status?: number }).status !== 400) throw err;
      const reason = /prototype/i.test(err.message) ? 'it has a __proto__ or constructor.prototype key' : 'it is not valid JSON, or not an object';
      throw new InvalidInputError('INVALID_BODY', `the body cannot be read: ${reason}; send ${shape}`, { cause: err });
    },
  });
}
