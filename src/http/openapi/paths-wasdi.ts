import { HISTORY_EPOCH_HEADER, ORIGIN_OPERATION_HEADER, USER_HEADER, VIA_HEADER } from '../../nodes/cluster-headers.ts';
import { MAX_COMMANDS } from '../../services/environments.ts';
import { COMPRESSED_HEADERS, ETAG, IF_NONE_MATCH, NOT_MODIFIED, PARAM_CODES, header, json, operation, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** WASDI's `/packageManager` resource: five GETs with WASDI's statuses (reference §1; README "The WASDI API"). */

const NAME = query('name', 'the processor\'s name', ref('ProcessorName'), true);
const PROCESSOR_ID = query('processorId', 'the processor\'s id', { type: 'string' }, true);
const WORKSPACE = query('workspace', 'taken as sent and recorded (procenv has no workspaces); `-` when absent', { type: 'string', default: '-' });
const READ_403 = ['PROCESSOR_NOT_ACCESSIBLE'];
/** Only a processor registered in a MongoDB store under a name that cannot be a folder name meets this one. */
const FOLDER_NAME_400 = 'INVALID_PROCESSOR_NAME';
const HEAD_405 = 'HEAD is refused: this GET changes state (a link checker or proxy must never queue a change)';

export const wasdiPaths: Record<string, PathItem> = {
  '/packageManager/listPackages': {
    get: operation('user', {
      operationId: 'listPackages', tags: ['wasdi'], summary: 'The packages of a processor\'s environment',
      description: 'packagesInfo.json\'s `outdated` + `uptodate` + `all` joined, sorted by packageName ignoring case; `[]` without a snapshot.',
      parameters: [NAME, IF_NONE_MATCH],
      responses: {
        200: json('The packages', { type: 'array', items: ref('Package') }, COMPRESSED_HEADERS),
        304: NOT_MODIFIED,
      },
      errors: { 400: [...PARAM_CODES, FOLDER_NAME_400], 403: READ_403, 500: ['SNAPSHOT_EMPTY', 'SNAPSHOT_UNREADABLE'] },
    }),
  },
  '/packageManager/managerVersion': {
    get: operation('user', {
      operationId: 'managerVersion', tags: ['wasdi'], summary: 'The version of a processor\'s package manager',
      description: 'From packagesInfo.json. **200 with an empty body** (still `application/json`, as WASDI\'s `Response.ok(null)`) when there '
        + 'is no snapshot, or when a live lookup is impossible or fails. An empty or unreadable snapshot asks the manager live '
        + '(`pip --version`), only when its environment exists.',
      parameters: [NAME, IF_NONE_MATCH],
      responses: {
        200: json('The version, or an empty body', ref('ManagerVersion'), { ETag: ETAG }),
        304: NOT_MODIFIED,
      },
      errors: { 400: [...PARAM_CODES, FOLDER_NAME_400], 403: READ_403 },
    }),
  },
  '/packageManager/environmentActions': {
    get: operation('user', {
      operationId: 'environmentActions', tags: ['wasdi'], summary: 'The history of a processor\'s environment (main node)',
      description: 'The lines of envActionsList.txt, trimmed, empty ones dropped (`[]` without the file).',
      parameters: [NAME, IF_NONE_MATCH],
      responses: {
        200: json('The history', { type: 'array', items: { type: 'string' } }, {
          ...COMPRESSED_HEADERS,
          ETag: header('names the answer\'s bytes and the history epoch (a reset changes it)', { type: 'string' }, true),
          [HISTORY_EPOCH_HEADER]: header('the history epoch (a reset starts a new one)', { type: 'string' }, true),
        }),
        304: NOT_MODIFIED,
      },
      errors: { 400: [...PARAM_CODES, FOLDER_NAME_400, 'MAIN_NODE_ONLY'], 403: READ_403, 500: ['HISTORY_UNREADABLE'] },
    }),
  },
  '/packageManager/environmentupdate': {
    get: operation('user', {
      operationId: 'environmentUpdate', tags: ['wasdi'], summary: 'Queue a change of a processor\'s environment',
      description: `Stores an ENVIRONMENTUPDATE operation (CREATED) and answers its id. No command is a refresh. ${HEAD_405}. `
        + 'With the cluster key (a delivery from the main node) `updateCommand` may repeat, in order, and the `x-procenv-*` headers '
        + 'name the acting user, the nodes passed through and the main node\'s operation.',
      parameters: [
        PROCESSOR_ID, WORKSPACE,
        query('updateCommand', `one command (URL-encoded once more, or not); at most ${MAX_COMMANDS} per node-to-node batch`, ref('UpdateCommand')),
        { name: USER_HEADER, in: 'header', description: 'node-to-node: the user the change is recorded for', schema: { type: 'string', maxLength: 200 } },
        { name: VIA_HEADER, in: 'header', description: 'node-to-node: the nodes the call passed through, comma separated (at most 8)', schema: { type: 'string' } },
        { name: ORIGIN_OPERATION_HEADER, in: 'header', description: 'node-to-node: the main node\'s operation (a delivery sent again finds the first one\'s operation)', schema: { type: 'string' } },
      ],
      responses: { 200: json('The operation is stored', ref('UpdateAccepted')) },
      errors: {
        400: [...PARAM_CODES, 'PROCESSOR_NOT_FOUND', 'NO_PACKAGE_MANAGER', 'INVALID_UPDATE_COMMAND', 'TOO_MANY_COMMANDS', 'PACKAGE_NOT_FOUND'],
        403: ['PROCESSOR_NOT_WRITABLE'], 405: ['METHOD_NOT_ALLOWED'], 409: ['PACKAGE_HELD'], 508: ['FORWARDING_LOOP'],
      },
    }),
  },
  '/packageManager/reset': {
    get: operation('user', {
      operationId: 'resetEnvironmentActions', tags: ['wasdi'], summary: 'Delete a processor\'s history and start a new epoch (main node)',
      description: `envActionsList.txt is deleted (also 200 when there was none); compute nodes see the new epoch. Needs write permission. ${HEAD_405}.`,
      parameters: [PROCESSOR_ID, WORKSPACE],
      responses: { 200: { description: 'Done; an empty body (`Content-Type: application/json`, as WASDI)' } },
      errors: { 400: [...PARAM_CODES, 'MAIN_NODE_ONLY'], 403: ['PROCESSOR_NOT_WRITABLE'], 405: ['METHOD_NOT_ALLOWED'] },
    }),
  },
};
