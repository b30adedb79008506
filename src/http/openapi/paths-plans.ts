import { MAX_COMMANDS } from '../../services/environments.ts';
import { json, header, operation, path, PROCESSOR_PATH, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** Plans and restores (README "Plans, restores and rollbacks"): write permission on the processor. */

const WRITE_403 = ['PROCESSOR_NOT_ACCESSIBLE', 'PROCESSOR_NOT_WRITABLE'];
const QUEUE_400 = ['NO_PACKAGE_MANAGER'];
const PLAN_PATH = path('id', 'the plan\'s id', { type: 'string' });
const LOCATION = { Location: header('`/operations/{id}`', { type: 'string', format: 'uri-reference' }, true) };

export const planPaths: Record<string, PathItem> = {
  '/processors/{name}/plans': {
    post: operation('user', {
      operationId: 'createPlan', tags: ['generations'], summary: 'The whole change some commands would make, from the manager\'s dry run',
      description: `At most ${MAX_COMMANDS} commands. pip: \`install --dry-run --report\` per install command, laid over the installed set; `
        + 'removals list the dependencies they would leave orphaned. Nothing is changed. The plan is kept by this procenv process for '
        + '`plans.ttlMinutes`.',
      parameters: [PROCESSOR_PATH],
      requestBody: { required: true, content: { 'application/json': { schema: ref('SubmitPlan') } } },
      responses: { 201: json('The plan', ref('Plan'), { Location: header('`/plans/{planId}`', { type: 'string', format: 'uri-reference' }, true) }) },
      errors: {
        400: ['INVALID_BODY', 'INVALID_UPDATE_COMMAND', 'TOO_MANY_COMMANDS', 'INVALID_PROCESSOR_NAME', 'NO_DRY_RUN', ...QUEUE_400,
          'COMMAND_FAILED', 'UNEXPECTED_OUTPUT'],
        403: WRITE_403, 404: ['PROCESSOR_NOT_FOUND'], 409: ['NO_GENERATION'], 413: ['ENTITY_TOO_LARGE'], 415: ['HTTP_415'],
      },
    }),
  },
  '/plans/{id}': {
    get: operation('user', {
      operationId: 'getPlan', tags: ['generations'], summary: 'A plan', parameters: [PLAN_PATH],
      responses: { 200: json('The plan', ref('Plan')) },
      errors: { 403: ['PROCESSOR_NOT_ACCESSIBLE'], 404: ['PLAN_NOT_FOUND'] },
    }),
  },
  '/plans/{id}/execute': {
    post: operation('user', {
      operationId: 'executePlan', tags: ['generations'], summary: 'Run a plan as one operation, while the environment is still its generation',
      description: 'Refused with 409 PROCESSOR_BUSY while another operation of the processor is queued or running. Otherwise 409 STALE_PLAN with `details.changedSince` (the difference from the plan\'s generation to the current one). The '
        + 'worker checks the generation again right before the first command, and ends the operation ERROR STALE_PLAN if it moved. '
        + 'Executing a plan again answers its operation, with `Idempotent-Replayed: true`.',
      parameters: [PLAN_PATH],
      responses: {
        202: json('The operation is stored', ref('Operation'), {
          ...LOCATION, 'Idempotent-Replayed': header('`true` when the plan was executed before', { const: 'true' }),
        }),
      },
      errors: { 400: QUEUE_400, 403: WRITE_403, 404: ['PLAN_NOT_FOUND'], 409: ['STALE_PLAN', 'PROCESSOR_BUSY', 'PACKAGE_HELD'] },
    }),
  },
  '/processors/{name}/generations/{number}/restore': {
    post: operation('user', {
      operationId: 'restoreGeneration', tags: ['generations'], summary: 'Bring the environment back to exactly a generation\'s package set',
      description: 'Exact pins of what differs (installed without dependencies, from the wheel cache first), then removals of what the generation '
        + 'did not have; recorded in envActionsList.txt as WASDI lines, and delivered to compute nodes as exact pins. `?plan=true` answers '
        + 'the plan instead (execute it with POST /plans/{id}/execute).',
      parameters: [
        PROCESSOR_PATH, path('number', 'the generation to bring back', { type: 'string', pattern: '^[1-9][0-9]{0,9}$' }),
        query('plan', 'true: only answer the plan', { enum: ['true', 'false', '1', '0'] }),
      ],
      responses: {
        200: json('`?plan=true`: the plan', ref('Plan')),
        202: json('The restore is stored as an operation', ref('Operation'), LOCATION),
      },
      errors: {
        400: ['INVALID_GENERATION_NUMBER', 'INVALID_PARAMETER', 'INVALID_PROCESSOR_NAME', ...QUEUE_400], 403: WRITE_403,
        404: ['GENERATION_NOT_FOUND', 'PROCESSOR_NOT_FOUND'], 409: ['NOTHING_TO_RESTORE', 'NO_GENERATION', 'STALE_PLAN', 'PROCESSOR_BUSY', 'PACKAGE_HELD'],
      },
    }),
  },
};
