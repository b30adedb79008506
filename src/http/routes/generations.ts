import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError } from '../../domain/errors.ts';
import { EXPORT_FORMATS, type ExportFormat } from '../../domain/generation-export.ts';
import type { GenerationService } from '../../services/generations.ts';
import type { SessionService } from '../../services/sessions.ts';
import { intParam, queryParam } from '../params.ts';
import { requestCaller } from '../caller.ts';

export interface GenerationRoutesDeps {
  sessions: SessionService;
  generations: GenerationService;
}

const NUMBER = /^[1-9][0-9]{0,9}$/;

/** A generation number from the path or the query: a whole number from 1. */
export function generationNumber(raw: string | undefined, what: string): number {
  if (raw === undefined || !NUMBER.test(raw)) {
    throw new InvalidInputError('INVALID_GENERATION_NUMBER', `${what} must be a generation number (a whole number from 1); got ${JSON.stringify((raw ?? '').slice(0, 40))}`);
  }
  return Number(raw);
}

function exportFormat(ctx: Context): ExportFormat {
  const raw = queryParam(ctx, 'format');
  if (raw === undefined || raw === '') return 'json';
  if (!(EXPORT_FORMATS as readonly string[]).includes(raw)) {
    throw new InvalidInputError('INVALID_PARAMETER', `query parameter "format" takes ${EXPORT_FORMATS.join(', ')}; got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return raw as ExportFormat;
}

/**
 * The generations of a processor's environment (read permission, as listPackages): the list, newest first; one
 * generation's manifest; the difference between two; one exported as a file to build an environment from.
 */
export function generationRoutes({ sessions, generations }: GenerationRoutesDeps, router: Router = new Router()): Router {
  const caller = (ctx: Context) => requestCaller(sessions, ctx);

  router.get('/processors/:name/generations', async (ctx) => {
    const user = await caller(ctx);
    const page = { limit: intParam(ctx, 'limit', 50, 1, 500), offset: intParam(ctx, 'offset', 0, 0, 1_000_000) };
    ctx.body = await generations.list(user, ctx.params.name!, page);
  });

  // Before /:number, which would otherwise take "diff" for a number (and refuse it).
  router.get('/processors/:name/generations/diff', async (ctx) => {
    const user = await caller(ctx);
    const from = generationNumber(queryParam(ctx, 'from', { required: true }), 'query parameter "from"');
    const to = generationNumber(queryParam(ctx, 'to', { required: true }), 'query parameter "to"');
    ctx.body = await generations.diff(user, ctx.params.name!, from, to);
  });

  router.get('/processors/:name/generations/:number', async (ctx) => {
    const user = await caller(ctx);
    ctx.body = await generations.get(user, ctx.params.name!, generationNumber(ctx.params.number, 'the generation in the path'));
  });

  router.get('/processors/:name/generations/:number/export', async (ctx) => {
    const user = await caller(ctx);
    const number = generationNumber(ctx.params.number, 'the generation in the path');
    const file = await generations.export(user, ctx.params.name!, number, exportFormat(ctx));
    ctx.type = file.contentType;
    // The file name is made of the processor name (letters, digits, "_", "." and "-") and fixed words.
    ctx.set('Content-Disposition', `attachment; filename="${file.filename}"`);
    ctx.body = file.body;
  });

  return router;
}
