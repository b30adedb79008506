import { MAX_COMMANDS } from '../../services/environments.ts';
import { INVALID_PARAM_CODES, LIST_PARAMETERS, OPERATION_PATH, PROCESSOR_PATH, header, json, operation, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** procenv's JSON operation API and the event stream (README "The operation API", "Live events"). */

const READ_403 = ['PROCESSOR_NOT_ACCESSIBLE'];
const BODY_400 = ['INVALID_BODY', 'INVALID_IDEMPOTENCY_KEY', 'INVALID_UPDATE_COMMAND', 'TOO_MANY_COMMANDS', 'NO_PACKAGE_MANAGER', 'PACKAGE_NOT_FOUND'];
/** The schedule fields (README "Schedules and maintenance windows"). */
const SCHEDULE_400 = ['INVALID_DELIVER_AFTER', 'INVALID_DELAY_WINDOW', 'INVALID_WINDOW_NAME', 'WINDOW_NOT_FOUND', 'WINDOW_NEVER_OPENS', 'WINDOW_UNCOMPUTABLE'];

export const operationPaths: Record<string, PathItem> = {
  '/operations': {
    get: operation('user', {
      operationId: 'listOperations', tags: ['operations'], summary: 'Operations, newest first',
      description: 'Without `processor`, those of every processor the caller can read (admins: all).',
      parameters: [query('processor', 'only this processor\'s (403 when the caller cannot read it)', ref('ProcessorName')), ...LIST_PARAMETERS],
      responses: { 200: json('The operations', { type: 'array', items: ref('Operation') }) },
      errors: { 400: INVALID_PARAM_CODES, 403: READ_403 },
    }),
  },
  '/operations/{id}': {
    get: operation('user', {
      operationId: 'getOperation', tags: ['operations'], summary: 'One operation, with its deliveries to the compute nodes',
      description: 'Read permission on its processor; an operation whose processor is gone stays visible to its requester and to admins.',
      parameters: [OPERATION_PATH],
      responses: { 200: json('The operation', ref('OperationWithDeliveries')) },
      errors: { 403: READ_403, 404: ['OPERATION_NOT_FOUND'] },
    }),
  },
  '/operations/{id}/log': {
    get: operation('user', {
      operationId: 'getOperationLog', tags: ['operations'], summary: 'An operation\'s log lines',
      description: 'The package manager\'s stdout and stderr and procenv\'s own notes, in order.',
      parameters: [
        OPERATION_PATH,
        query('after', 'only lines with a greater seq (the last seq read)', { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
        query('limit', 'at most this many lines', { type: 'integer', minimum: 1, maximum: 10_000, default: 10_000 }),
      ],
      responses: { 200: json('The lines', { type: 'array', items: ref('OperationLogLine') }) },
      errors: { 400: INVALID_PARAM_CODES, 403: READ_403, 404: ['OPERATION_NOT_FOUND'] },
    }),
  },
  '/operations/{id}/cancel': {
    post: operation('user', {
      operationId: 'cancelOperation', tags: ['operations'], summary: 'Cancel an operation',
      description: 'A queued operation ends STOPPED at once. A running one has its process group killed, ends STOPPED, and a refresh is '
        + 'queued after it (the answer may still say RUNNING: follow it). Write permission on its processor.',
      parameters: [OPERATION_PATH],
      responses: { 200: json('The operation after the cancel', ref('Operation')) },
      errors: { 403: [...READ_403, 'PROCESSOR_NOT_WRITABLE'], 404: ['OPERATION_NOT_FOUND'], 409: ['OPERATION_FINISHED'] },
    }),
  },
  '/processors/{name}/operations': {
    post: operation('user', {
      operationId: 'submitOperation', tags: ['operations'], summary: 'Queue several commands as one operation',
      description: `At most ${MAX_COMMANDS} commands, run in order; an empty list is a refresh. The caller is authenticated before the body `
        + 'is read (an anonymous caller gets 401 whatever it sent). The same `Idempotency-Key` from the same user answers the first '
        + 'operation again, with `Idempotent-Replayed: true`. With `deliverAfter`, `deliverDelayWindowMinutes` or `window` it is a scheduled '
        + 'operation: stored CREATED with its planned start in `notBefore` (and, with a window, `notAfter`), claimed by no worker before; '
        + 'it reaches the compute nodes when the main node starts it.',
      parameters: [
        PROCESSOR_PATH,
        { name: 'Idempotency-Key', in: 'header', description: 'a key of the caller\'s: the same key answers the first operation again', schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' } },
      ],
      requestBody: { required: true, content: { 'application/json': { schema: ref('SubmitOperation') } } },
      responses: {
        202: json('The operation is stored (or, with a key used before, the first one)', ref('Operation'), {
          Location: header('`/operations/{id}`', { type: 'string', format: 'uri-reference' }, true),
          'Idempotent-Replayed': header('`true` when the key was used before and the first operation is answered', { const: 'true' }),
        }),
      },
      errors: {
        400: [...BODY_400, ...SCHEDULE_400], 403: [...READ_403, 'PROCESSOR_NOT_WRITABLE'], 409: ['IDEMPOTENCY_KEY_REUSED', 'PACKAGE_HELD'], 413: ['ENTITY_TOO_LARGE'],
        415: ['HTTP_415'], 508: ['FORWARDING_LOOP'],
      },
    }),
  },
  '/processors/{name}/history': {
    get: operation('user', {
      operationId: 'getProcessorHistory', tags: ['operations'], summary: 'A processor\'s ended operations, newest first',
      description: 'Kept across `reset` (which clears only the replay list). `status` narrows to DONE, ERROR or STOPPED.',
      parameters: [PROCESSOR_PATH, ...LIST_PARAMETERS],
      responses: { 200: json('The operations', { type: 'array', items: ref('Operation') }) },
      errors: { 400: INVALID_PARAM_CODES, 403: READ_403 },
    }),
  },

  '/events/tickets': {
    post: operation('session', {
      operationId: 'createEventTicket', tags: ['events'], summary: 'A ticket that opens one event stream',
      description: 'For browsers, whose EventSource cannot send headers. Good once, within `events.ticketSeconds` (≤ 60 s), on the node that made it.',
      responses: { 201: json('The ticket', ref('EventTicket'), { 'Cache-Control': header('`no-store`') }) },
    }),
  },
  '/events': {
    get: operation('session', {
      operationId: 'streamEvents', tags: ['events'], summary: 'The live events of the processors the caller can read (Server-Sent Events)',
      description: 'Authenticated by the `x-session-token` header or by `?ticket=` (a session token in the URL is refused: 400 `TOKEN_IN_URL`). '
        + 'Each message is `id: N` and one `data:` line of JSON (schema `StreamMessage`); there is no `event:` line. `retry:` comes first, '
        + 'and a comment every `events.keepAliveSeconds`. Reconnecting with Last-Event-ID sends every event after it first; an id older '
        + 'than the journal keeps gets one `reset` message. The stream is never compressed.',
      parameters: [
        {
          name: 'processor', in: 'query', description: 'only these processors\' events (repeat it; at most 100)', style: 'form', explode: true,
          schema: { type: 'array', maxItems: 100, items: ref('ProcessorName') },
        },
        query('operation', 'only this operation\'s events', { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' }),
        query('ticket', 'a ticket from POST /events/tickets, instead of the x-session-token header'),
        query('lastEventId', 'resume after this event id (with a new ticket; the Last-Event-ID header wins)', { type: 'string', pattern: '^[0-9]{1,15}$' }),
        { name: 'Last-Event-ID', in: 'header', description: 'resume after this event id (EventSource sends it by itself)', schema: { type: 'string', pattern: '^[0-9]{1,15}$' } },
      ],
      responses: {
        200: {
          description: 'The stream',
          headers: { 'Cache-Control': header('`no-cache, no-transform`'), 'X-Accel-Buffering': header('`no`: proxies must not buffer') },
          content: {
            'text/event-stream': {
              schema: { type: 'string', description: 'SSE messages; each `data:` line is a `StreamMessage`' },
              'x-procenv-data': ref('StreamMessage'),
            },
          },
        },
      },
      errors: {
        400: ['TOKEN_IN_URL', 'INVALID_PROCESSOR_NAME', 'INVALID_PARAMETER', 'INVALID_LAST_EVENT_ID', 'REPEATED_PARAMETER', 'PARAMETER_TOO_LONG'],
        403: READ_403, 404: ['OPERATION_NOT_FOUND'], 429: ['TOO_MANY_STREAMS'],
      },
    }),
  },
};
