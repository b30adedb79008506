import { IF_NONE_MATCH, NOT_MODIFIED, PROCESSOR_PATH, errorResponse, header, json, operation, path } from './responses.ts';
import { ref, type Operation, type PathItem } from './spec-types.ts';

/** Operators' routes (README "Health, readiness and metrics"), this document itself, and the environment panel. */

const redirect = (operationId: string, summary: string): Operation => ({
  ...operation('none', {
    operationId, tags: ['panel'], summary,
    responses: {
      302: {
        description: 'To the panel, with Koa\'s short note as the body',
        headers: { Location: header('`/ui/`', { const: '/ui/' }, true) },
        content: { 'text/plain; charset=utf-8': { schema: { type: 'string' } }, 'text/html; charset=utf-8': { schema: { type: 'string' } } },
      },
    },
  }),
  'x-procenv-served-by': 'panel-files',
});

const PANEL_HEADERS = {
  ETag: header('a strong ETag of the file', { type: 'string' }, true),
  'Cache-Control': header('`no-cache`: asked again each time, 304 while unchanged'),
  'Content-Security-Policy': header('no inline script or style, nothing from another origin, no framing'),
};

const panelFile = (operationId: string, summary: string, parameters: Operation['parameters'], types: string[]): Operation => ({
  ...operation('none', {
    operationId, tags: ['panel'], summary,
    description: 'Plain ES modules, CSS and SVG read once from `ui/`; no token needed (the page asks for one and sends it as x-session-token).',
    parameters: [...(parameters ?? []), IF_NONE_MATCH],
    responses: {
      200: { description: 'The file', headers: PANEL_HEADERS, content: Object.fromEntries(types.map((type) => [type, { schema: { type: 'string' } }])) },
      304: NOT_MODIFIED,
      404: errorResponse('The panel has no such file', ['PANEL_FILE_NOT_FOUND']),
      ...(parameters?.length ? { 400: errorResponse('The path is not valid URL encoding', ['INVALID_PATH']) } : {}),
    },
  }),
  'x-procenv-served-by': 'panel-files',
});

export const servicePaths: Record<string, PathItem> = {
  '/health': {
    get: operation('none', {
      operationId: 'health', tags: ['operator'], summary: 'Liveness: the process answers',
      responses: { 200: json('Alive', ref('Health'), { 'Cache-Control': header('`no-store`') }) },
    }),
  },
  '/ready': {
    get: operation('none', {
      operationId: 'ready', tags: ['operator'], summary: 'Readiness: the store answers, the processors folder is watched, the worker runs',
      responses: {
        200: json('Ready', ref('Ready'), { 'Cache-Control': header('`no-store`') }),
        503: json('Not ready, naming the failing parts (and nothing more)', ref('NotReady'), { 'Cache-Control': header('`no-store`') }),
      },
    }),
  },
  '/metrics': {
    get: {
      ...operation('none', {
        operationId: 'metrics', tags: ['operator'], summary: 'Prometheus metrics (prom-client)',
        description: 'With `metricsToken` set, `Authorization: Bearer <token>` is needed; without it, no credential is asked.',
        responses: {
          200: {
            description: 'The Prometheus text format',
            headers: { 'Cache-Control': header('`no-store`') },
            content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } },
          },
          401: errorResponse('metricsToken is set and the bearer token is missing or wrong', ['UNAUTHENTICATED'], { 'WWW-Authenticate': header('`Bearer`', { type: 'string' }, true) }),
        },
      }),
      security: [{}, { metricsBearer: [] }],
    },
  },
  '/openapi.json': {
    get: operation('none', {
      operationId: 'getOpenApiDocument', tags: ['meta'], summary: 'This document',
      parameters: [IF_NONE_MATCH],
      responses: {
        200: json('The OpenAPI 3.1 document', {
          type: 'object', required: ['openapi', 'info', 'paths'],
          properties: { openapi: { type: 'string', pattern: '^3\\.1\\.' }, info: { type: 'object' }, paths: { type: 'object' } },
        }, { ETag: header('a strong ETag of the document', { type: 'string' }, true) }),
        304: NOT_MODIFIED,
      },
    }),
  },

  '/me': {
    get: operation('user', {
      operationId: 'getMe', tags: ['panel'], summary: 'Who is signed in, and on which node',
      responses: { 200: json('The caller', ref('Me')) },
    }),
  },
  '/processors': {
    get: operation('user', {
      operationId: 'listProcessors', tags: ['panel'], summary: 'The processors the caller can read, sorted by name ignoring case',
      description: 'Each with the caller\'s write right, its package and outdated counts (from the parsed packagesInfo.json) and its newest operation.',
      responses: { 200: json('The processors', { type: 'array', items: ref('ProcessorSummary') }) },
    }),
  },
  '/processors/{name}': {
    get: operation('user', {
      operationId: 'getProcessor', tags: ['panel'], summary: 'One processor, as the panel lists it',
      description: 'An unknown processor answers 403 like one the caller cannot read, so that names cannot be probed.',
      parameters: [PROCESSOR_PATH],
      responses: { 200: json('The processor', ref('ProcessorSummary')) },
      errors: { 400: ['INVALID_PROCESSOR_NAME'], 403: ['PROCESSOR_NOT_ACCESSIBLE'] },
    }),
  },
  '/': { get: redirect('rootRedirect', 'Redirects to the panel') },
  '/ui': { get: redirect('panelRedirect', 'Redirects to the panel (`/ui/`)') },
  '/ui/': { get: panelFile('getPanel', 'The environment panel (index.html)', [], ['text/html; charset=utf-8']) },
  '/ui/{file}': {
    get: panelFile('getPanelFile', 'One of the panel\'s files', [
      path('file', 'a file under `ui/`, which may name a subfolder (`lib/api.js`, `views/packages.js`)', { type: 'string', examples: ['app.js', 'style.css'] }),
    ], ['text/javascript; charset=utf-8', 'text/css; charset=utf-8', 'text/html; charset=utf-8', 'image/svg+xml']),
  },
};
