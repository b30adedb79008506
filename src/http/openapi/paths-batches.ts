import { BATCH_ACTIONS, MAX_BATCH_PACKAGES, MAX_BATCH_PROCESSORS } from '../../domain/batches.ts';
import { header, json, operation, path, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** Batches across processors and the updates available (README "Batches and updates"). */

const BATCH_PATH = path('id', 'the batch\'s id', { type: 'string' });
const PAGE = [
  query('limit', 'at most this many batches', { type: 'integer', minimum: 1, maximum: 500, default: 50 }),
  query('offset', 'skip this many', { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 }),
];
const BOOL = { enum: ['true', 'false', '1', '0'] };

export const batchPaths: Record<string, PathItem> = {
  '/batches': {
    post: operation('user', {
      operationId: 'createBatch', tags: ['fleet'], summary: 'One change on many processors: one operation each, holds skipped, the others listed as refused',
      description: `Main node. Actions: ${BATCH_ACTIONS.join(', ')}. At most ${MAX_BATCH_PROCESSORS} processors and ${MAX_BATCH_PACKAGES} packages. `
        + 'Each processor the caller can write gets its part as one ordinary operation (several when it is longer than an operation takes); '
        + 'processors it cannot write are in `results` with `refused`; those with nothing to do with `skipped`.',
      requestBody: { required: true, content: { 'application/json': { schema: ref('CreateBatch') } } },
      responses: { 202: json('The batch as queued', ref('Batch'), { Location: header('`/batches/{id}`', { type: 'string', format: 'uri-reference' }, true) }) },
      errors: {
        400: ['INVALID_BODY', 'INVALID_ACTION', 'INVALID_PROCESSORS', 'INVALID_PACKAGES', 'INVALID_DELIVER_AFTER', 'INVALID_DELAY_WINDOW', 'INVALID_WINDOW_NAME',
          'WINDOW_NOT_FOUND', 'WINDOW_NEVER_OPENS', 'NO_ADVISORY_DATABASE', 'MAIN_NODE_ONLY'],
        413: ['ENTITY_TOO_LARGE'], 415: ['HTTP_415'],
      },
    }),
    get: operation('user', {
      operationId: 'listBatches', tags: ['fleet'], summary: 'Your batches (an admin: everyone\'s), newest first, with their progress',
      parameters: PAGE,
      responses: { 200: json('The batches', { type: 'array', items: ref('Batch') }) },
      errors: { 400: ['INVALID_PARAMETER', 'REPEATED_PARAMETER', 'PARAMETER_TOO_LONG'] },
    }),
  },
  '/batches/{id}': {
    get: operation('user', {
      operationId: 'getBatch', tags: ['fleet'], summary: 'A batch: each processor\'s result and operation, with each compute node\'s delivery on the main node',
      parameters: [BATCH_PATH],
      responses: { 200: json('The batch', ref('Batch')) },
      errors: { 404: ['BATCH_NOT_FOUND'] },
    }),
  },
  '/batches/{id}/cancel': {
    post: operation('user', {
      operationId: 'cancelBatch', tags: ['fleet'], summary: 'Cancel the batch\'s operations that have not started (running and ended ones stay as they are)',
      parameters: [BATCH_PATH],
      responses: { 200: json('The batch after the cancel', ref('Batch')) },
      errors: { 404: ['BATCH_NOT_FOUND'] },
    }),
  },
  '/updates': {
    get: operation('user', {
      operationId: 'listUpdates', tags: ['fleet'], summary: 'Per processor you can read: the updates available, security or regular, and when they were checked',
      parameters: [
        query('all', 'true: processors without updates too', BOOL),
        query('security', 'true: only processors with a security update', BOOL),
      ],
      responses: { 200: json('The updates, by processor', { type: 'array', items: ref('ProcessorUpdates') }) },
      errors: { 400: ['INVALID_PARAMETER', 'REPEATED_PARAMETER', 'PARAMETER_TOO_LONG'] },
    }),
  },
  '/updates/{processor}': {
    get: operation('user', {
      operationId: 'getUpdates', tags: ['fleet'], summary: 'One processor\'s updates (read permission)',
      parameters: [path('processor', 'the processor name', { type: 'string' })],
      responses: { 200: json('The updates', ref('ProcessorUpdates')) },
      errors: { 400: ['NO_PACKAGE_MANAGER'], 403: ['PROCESSOR_NOT_ACCESSIBLE'] },
    }),
  },
  '/updates/check': {
    post: operation('user', {
      operationId: 'checkUpdates', tags: ['fleet'], summary: 'Queue a refresh (newer versions looked up) of the processors named, or of every one you can change',
      requestBody: { required: false, content: { 'application/json': { schema: ref('CheckUpdates') } } },
      responses: { 202: json('One refresh operation per processor, or why not', ref('CheckUpdatesResult')) },
      errors: { 400: ['INVALID_BODY', 'INVALID_PROCESSORS', 'MAIN_NODE_ONLY'], 413: ['ENTITY_TOO_LARGE'], 415: ['HTTP_415'] },
    }),
  },
};
