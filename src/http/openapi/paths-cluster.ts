import { INVALID_PARAM_CODES, PROCESSOR_PATH, json, operation, path, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/**
 * The cluster's routes: for people on the main node (`/nodes`, `/processors/{name}/nodes`) and node to node with the
 * cluster key (`/cluster/*`); and the catalog's problem list (README "Cluster", "Processor folders are tenant input").
 */

/** A compute node has no node list, fan-out or delivery reports: those routes answer 404 there. */
const ABSENT_404 = ['NOT_ON_THIS_NODE'];

export const clusterPaths: Record<string, PathItem> = {
  '/nodes': {
    get: operation('user', {
      operationId: 'listNodes', tags: ['cluster'], summary: 'The compute nodes (main node, admins)',
      description: 'Each compute node with its address (without credentials), reachability (one ping reused for `cluster.statusCacheSeconds`) '
        + 'and its pending and failed deliveries.',
      responses: { 200: json('The compute nodes', { type: 'array', items: ref('NodeView') }) },
      errors: { 403: ['ADMIN_ONLY'], 404: ABSENT_404 },
    }),
  },
  '/processors/{name}/nodes': {
    get: operation('user', {
      operationId: 'getProcessorNodes', tags: ['cluster'], summary: 'Where each compute node stands in a processor\'s history (main node)',
      description: 'Read permission on the processor. Each active compute node\'s applied position is asked once per `cluster.statusCacheSeconds`.',
      parameters: [PROCESSOR_PATH],
      responses: { 200: json('The positions', ref('ProcessorNodes')) },
      errors: { 400: ['INVALID_PROCESSOR_NAME'], 403: ['PROCESSOR_NOT_ACCESSIBLE'], 404: ABSENT_404, 500: ['HISTORY_UNREADABLE'] },
    }),
  },
  '/cluster/ping': {
    get: operation('cluster', {
      operationId: 'clusterPing', tags: ['cluster-internal'], summary: 'Node to node: is this node there',
      responses: { 200: json('The node answers', ref('ClusterPing')) },
    }),
  },
  '/cluster/processors/{name}/history': {
    get: operation('cluster', {
      operationId: 'clusterHistory', tags: ['cluster-internal'], summary: 'Node to node: the main node\'s history of a processor, with the operation behind each line',
      parameters: [PROCESSOR_PATH, query('from', 'look up the origins of lines from this index on', { type: 'integer', minimum: 0, maximum: 1_000_000_000, default: 0 })],
      responses: { 200: json('The history', ref('ClusterHistory')) },
      errors: { 400: [...INVALID_PARAM_CODES, 'MAIN_NODE_ONLY', 'INVALID_PROCESSOR_NAME'], 403: ['PROCESSOR_NOT_ACCESSIBLE'], 500: ['HISTORY_UNREADABLE'] },
    }),
  },
  '/cluster/processors/{name}/sync': {
    get: operation('cluster', {
      operationId: 'clusterSyncPosition', tags: ['cluster-internal'], summary: 'Node to node: this compute node\'s position in a processor\'s history',
      description: 'A node that never synced the processor answers epoch `""` and 0 lines applied.',
      parameters: [PROCESSOR_PATH],
      responses: { 200: json('The position', ref('SyncState')) },
      errors: { 404: ['PROCESSOR_NOT_FOUND'] },
    }),
  },
  '/cluster/deliveries/{operationId}/{nodeCode}': {
    post: operation('cluster', {
      operationId: 'clusterReportDelivery', tags: ['cluster-internal'], summary: 'Node to node: a compute node reports how a delivered change ended (main node)',
      parameters: [
        path('operationId', 'the main node\'s operation'),
        path('nodeCode', 'the reporting compute node', { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
      ],
      requestBody: { required: true, content: { 'application/json': { schema: ref('DeliveryReport') } } },
      responses: { 200: json('Taken', ref('DeliveryRecorded')) },
      errors: { 400: ['INVALID_NODE_CODE', 'INVALID_BODY', 'HTTP_400'], 404: ABSENT_404, 413: ['ENTITY_TOO_LARGE'], 415: ['HTTP_415'] },
    }),
  },
  '/catalog/problems': {
    get: operation('user', {
      operationId: 'listCatalogProblems', tags: ['catalog'], summary: 'The processor folders and files procenv refuses (admins)',
      description: 'A link, a FIFO, a file over its limit, a second claim of a registered processorId, an environment leading out…, with the reason.',
      responses: { 200: json('The problems, by folder and file', { type: 'array', items: ref('FolderProblem') }) },
      errors: { 403: ['ADMIN_ONLY'] },
    }),
  },
};
