import { header, json, operation, path } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** Maintenance windows (README "Schedules and maintenance windows"): node-wide, kept on the main node. */

const WINDOW_PATH = path('name', 'the window\'s name', { ...ref('WindowName'), examples: ['weekend'] });

const PUT_HEADERS = {
  Location: header('`/windows/{name}`', { type: 'string', format: 'uri-reference' }, true),
  'X-Replanned-Operations': header('how many waiting operations bound to the window were planned anew (0 for a new window)', { type: 'string', pattern: '^[0-9]+$' }, true),
};

export const windowPaths: Record<string, PathItem> = {
  '/windows': {
    get: operation('user', {
      operationId: 'listWindows', tags: ['schedules'], summary: 'The maintenance windows, by name, each with its next opening',
      responses: { 200: json('The windows', { type: 'array', items: ref('Window') }) },
    }),
  },
  '/windows/{name}': {
    get: operation('user', {
      operationId: 'getWindow', tags: ['schedules'], summary: 'One maintenance window, whether it is open now, its next opening and closing',
      parameters: [WINDOW_PATH],
      responses: { 200: json('The window', ref('Window')) },
      errors: { 404: ['WINDOW_NOT_FOUND'] },
    }),
    put: operation('user', {
      operationId: 'putWindow', tags: ['schedules'], summary: 'Create or replace a maintenance window (admins, main node)',
      description: 'Operations already bound to the window and still waiting are planned anew against the new schedule '
        + '(`X-Replanned-Operations` says how many). A schedule with no opening ahead (`0 0 30 2 *`) is refused.',
      parameters: [WINDOW_PATH],
      requestBody: { required: true, content: { 'application/json': { schema: ref('PutWindow') } } },
      responses: {
        200: json('The window, replaced', ref('Window'), PUT_HEADERS),
        201: json('The window, new', ref('Window'), PUT_HEADERS),
      },
      errors: {
        400: ['INVALID_BODY', 'INVALID_WINDOW_NAME', 'INVALID_WINDOW_SCHEDULE', 'INVALID_WINDOW_DURATION', 'UNKNOWN_TIMEZONE', 'WINDOW_NEVER_OPENS', 'WINDOW_UNCOMPUTABLE', 'MAIN_NODE_ONLY'],
        403: ['ADMIN_ONLY'], 413: ['ENTITY_TOO_LARGE'], 415: ['HTTP_415'],
      },
    }),
    delete: operation('user', {
      operationId: 'deleteWindow', tags: ['schedules'], summary: 'Delete a maintenance window (admins, main node)',
      description: 'Refused with 409 `WINDOW_IN_USE` while queued operations wait for it (`details.operations` names up to 20): cancel them first.',
      parameters: [WINDOW_PATH],
      responses: { 204: { description: 'Deleted' } },
      errors: { 400: ['MAIN_NODE_ONLY'], 403: ['ADMIN_ONLY'], 404: ['WINDOW_NOT_FOUND'], 409: ['WINDOW_IN_USE'] },
    }),
  },
};
