import Router from '@koa/router';
import { CachedAnswer } from '../../util/cached-answer.ts';
import { sendAnswer } from '../answers.ts';
import { openApiDocument } from '../openapi.ts';

/** GET /openapi.json: procenv's OpenAPI 3.1 document, serialised once, with its ETag; no token needed. */
export function openapiRoutes(router: Router = new Router()): Router {
  let answer: CachedAnswer | undefined;
  router.get('/openapi.json', (ctx) => {
    answer ??= CachedAnswer.of(JSON.stringify(openApiDocument));
    sendAnswer(ctx, answer, { compress: true });
  });
  return router;
}
