import { OPERATION_STATUSES } from '../../domain/operation.ts';
import { MAX_PARAM_LENGTH } from '../params.ts';
import { ref, type Header, type Operation, type Parameter, type Response, type Schema, type SecurityRequirement } from './spec-types.ts';

/**
 * Building blocks of the document's operations: who may call (security and the error answers that follow from it),
 * error answers with the codes each status carries, JSON answers, and the parameters several routes share.
 */

/**
 * How a route authenticates. `user`: a session token, or the cluster key (a node-to-node call acting for the user in
 * `x-procenv-user`, with every right). `session`: a session token only. `cluster`: the cluster key only (a session
 * token is 403 CLUSTER_ONLY). `none`: nothing asked.
 */
export type Auth = 'user' | 'session' | 'cluster' | 'none';

const SECURITY: Record<Auth, SecurityRequirement[]> = {
  user: [{ sessionToken: [] }, { clusterKey: [] }],
  session: [{ sessionToken: [] }],
  cluster: [{ clusterKey: [] }],
  none: [],
};

/** The 400 codes of a malformed `x-procenv-via` header, checked whenever the cluster key is accepted. */
const VIA_CODES = ['INVALID_VIA', 'INVALID_NODE_CODE'];

/** Codes of the query-parameter helpers (`src/http/params.ts`). */
export const PARAM_CODES = ['MISSING_PARAMETER', 'REPEATED_PARAMETER', 'PARAMETER_TOO_LONG'];
export const INVALID_PARAM_CODES = ['INVALID_PARAMETER', 'REPEATED_PARAMETER', 'PARAMETER_TOO_LONG'];

/** An error answer whose `error.code` is one of `codes`. */
export function errorResponse(description: string, codes: readonly string[], headers?: Record<string, Header>): Response {
  const unique = [...new Set(codes)];
  return {
    description: `${description} (\`${unique.join('`, `')}\`)`,
    ...(headers ? { headers } : {}),
    content: {
      'application/json': {
        schema: { ...ref('Error'), type: 'object', properties: { error: { type: 'object', properties: { code: { enum: unique } } } } },
      },
    },
  };
}

export function json(description: string, schema: Schema, headers?: Record<string, Header>): Response {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema } } };
}

export const header = (description: string, schema: Schema = { type: 'string' }, required = false): Header => ({ description, schema, ...(required ? { required } : {}) });

/** The conditional GET of the answers procenv keeps ready (listPackages, managerVersion, environmentActions, the panel's files). */
export const IF_NONE_MATCH: Parameter = {
  name: 'If-None-Match', in: 'header', description: 'the ETag of an earlier answer: 304 without a body while it is still current', schema: { type: 'string' },
};
export const NOT_MODIFIED: Response = { description: 'Not modified: the ETag given in If-None-Match is current', headers: { ETag: header('the current ETag', { type: 'string' }, true) } };
export const ETAG = header('a strong ETag taken from the answer\'s bytes', { type: 'string' }, true);
export const COMPRESSED_HEADERS: Record<string, Header> = {
  ETag: ETAG,
  Vary: header('`Accept-Encoding`: the answer is sent br- or gzip-compressed to clients that accept it'),
  'Content-Encoding': header('`br` or `gzip`, when the client accepts one'),
};

/**
 * Everything an operation answers besides its successes: the errors its route raises (`errors`, by status), plus
 * those that follow from how it authenticates. Any route may also answer 500 `INTERNAL` for a fault procenv did
 * not expect; that is not listed per operation.
 */
export function operation(auth: Auth, spec: Omit<Operation, 'security' | 'responses'> & {
  responses: Record<string, Response>;
  errors?: Partial<Record<400 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 508, string[]>>;
}): Operation {
  const { errors = {}, responses, ...rest } = spec;
  const out: Record<string, Response> = { ...responses };
  const add = (status: number, description: string, codes: string[], headers?: Record<string, Header>) => {
    if (codes.length) out[String(status)] = errorResponse(description, codes, headers);
  };
  const acceptsClusterKey = auth === 'user' || auth === 'cluster';
  add(400, 'Bad request', [...(errors[400] ?? []), ...(acceptsClusterKey ? VIA_CODES : [])]);
  if (auth !== 'none') add(401, 'No session token, or one unknown or expired; or a wrong cluster key', ['UNAUTHENTICATED']);
  add(403, 'Forbidden', [...(auth === 'cluster' ? ['CLUSTER_ONLY'] : []), ...(errors[403] ?? [])]);
  add(404, 'Not found', errors[404] ?? []);
  add(405, 'Method not allowed', errors[405] ?? [], { Allow: header('the methods allowed here') });
  add(409, 'Conflict with the current state', errors[409] ?? []);
  add(413, 'The body is over its limit', errors[413] ?? []);
  add(415, 'The body\'s encoding cannot be read', errors[415] ?? []);
  add(429, 'Over a limit of what one caller or this node may hold', errors[429] ?? []);
  add(500, 'A processor file cannot be read as what it should be (WASDI answers these with 500 too)', errors[500] ?? []);
  add(508, 'A node-to-node request came back to a node it passed through, or to the main node', errors[508] ?? []);
  if (auth !== 'none') add(503, 'The store cannot answer now (locked by another process past `storeBusyWaitMs`, unreachable, or its file replaced); try again', ['STORE_UNAVAILABLE']);
  return { ...rest, security: SECURITY[auth], responses: sortByStatus(out) };
}

function sortByStatus(responses: Record<string, Response>): Record<string, Response> {
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

export function query(name: string, description: string, schema: Schema = { type: 'string' }, required = false): Parameter {
  return { name, in: 'query', description, schema: schema.type === 'string' && schema.maxLength === undefined ? { ...schema, maxLength: MAX_PARAM_LENGTH } : schema, ...(required ? { required } : {}) };
}

export function path(name: string, description: string, schema: Schema = { type: 'string' }): Parameter {
  return { name, in: 'path', description, required: true, schema };
}

export const PROCESSOR_PATH = path('name', 'the processor\'s name', ref('ProcessorName'));
export const OPERATION_PATH = path('id', 'the operation\'s processObjId');

/** The filters and page of GET /operations and GET /processors/{name}/history. */
export const LIST_PARAMETERS: Parameter[] = [
  query('status', `a comma list of ${OPERATION_STATUSES.join(', ')}`, {
    type: 'string', pattern: `^(${OPERATION_STATUSES.join('|')})( *, *(${OPERATION_STATUSES.join('|')}))*$`, examples: ['DONE,ERROR'],
  }),
  query('user', 'only operations asked for by this user'),
  query('since', 'operationTimestamp at or after: ISO 8601 or ms since the epoch', { type: 'string', examples: ['2025-01-31T00:00:00Z', '1738281600000'] }),
  query('until', 'operationTimestamp at or before: ISO 8601 or ms since the epoch', { type: 'string' }),
  query('limit', 'at most this many', { type: 'integer', minimum: 1, maximum: 500, default: 50 }),
  query('offset', 'skip this many', { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 }),
];
