import { INVALID_PARAM_CODES, json, operation, PROCESSOR_PATH, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** The packages across processors (README "Packages across processors"): read permission decides what counts. */

const FILTERS = [
  query('q', 'part of the package name, any case (pip names as PEP 503 normalises them); an exact name comes first', { type: 'string', maxLength: 200 }),
  query('manager', 'only this manager\'s packages', { enum: ['pip', 'conda'] }),
  query('type', 'only processors of this type', { type: 'string' }),
  query('upgradable', 'true: only packages with a newer version somewhere; false: only those up to date everywhere', { enum: ['true', 'false', '1', '0'] }),
  query('held', 'true: only packages held on some processor; false: only those held nowhere', { enum: ['true', 'false', '1', '0'] }),
  query('installed', 'false: packages installed nowhere (the index holds none, so nothing); true: the default', { enum: ['true', 'false', '1', '0'] }),
];

export const packagePaths: Record<string, PathItem> = {
  '/packages/summary': {
    get: operation('user', {
      operationId: 'packageSummary', tags: ['packages'], summary: 'Per manager and processor type: processors, packages, distinct and outdated ones',
      responses: { 200: json('The summary', { type: 'array', items: ref('PackageSummaryRow') }) },
    }),
  },
  '/packages/search': {
    get: operation('user', {
      operationId: 'searchPackages', tags: ['packages'], summary: 'Packages by name across processors: where installed, at which version, where upgradable',
      description: 'From an index kept in memory and updated when a snapshot changes. One row per package name and manager; rows with no '
        + 'processor you can read are not there.',
      parameters: [
        ...FILTERS,
        query('limit', 'at most this many rows', { type: 'integer', minimum: 1, maximum: 500, default: 50 }),
        query('offset', 'skip this many rows', { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 }),
      ],
      responses: { 200: json('The matching packages', { type: 'array', items: ref('PackageSearchRow') }) },
      errors: { 400: INVALID_PARAM_CODES },
    }),
  },
  '/packages/search/count': {
    get: operation('user', {
      operationId: 'countPackages', tags: ['packages'], summary: 'How many package names a search matches, by manager and processor type',
      parameters: FILTERS,
      responses: { 200: json('The count', ref('PackageSearchCount')) },
      errors: { 400: INVALID_PARAM_CODES },
    }),
  },
};

const PACKAGE_PATH = { name: 'package', in: 'path' as const, required: true, description: 'the package name (pip: any spelling PEP 503 takes for one)', schema: { type: 'string', maxLength: 200 } };

export const holdPaths: Record<string, PathItem> = {
  '/processors/{name}/holds': {
    get: operation('user', {
      operationId: 'listHolds', tags: ['packages'], summary: 'A processor\'s holds (read permission)',
      parameters: [PROCESSOR_PATH],
      responses: { 200: json('The holds, by package', { type: 'array', items: ref('Hold') }) },
      errors: { 400: ['INVALID_PROCESSOR_NAME'], 403: ['PROCESSOR_NOT_ACCESSIBLE'] },
    }),
  },
  '/processors/{name}/holds/{package}': {
    put: operation('user', {
      operationId: 'putHold', tags: ['packages'], summary: 'Hold a package: no change may upgrade, downgrade or remove it (main node, write permission)',
      description: 'A change that would move it is refused with 409 PACKAGE_HELD before it is queued; pip also gets it pinned at its installed '
        + 'version as a constraint, so no dependency resolution moves it. Compute nodes take the main node\'s holds with its history.',
      parameters: [PROCESSOR_PATH, PACKAGE_PATH],
      requestBody: { required: true, content: { 'application/json': { schema: ref('PutHold') } } },
      responses: { 200: json('The hold, replaced', ref('Hold')), 201: json('The hold, new', ref('Hold')) },
      errors: {
        400: ['INVALID_BODY', 'INVALID_PACKAGE_NAME', 'INVALID_PROCESSOR_NAME', 'MAIN_NODE_ONLY', 'NO_PACKAGE_MANAGER'],
        403: ['PROCESSOR_NOT_ACCESSIBLE', 'PROCESSOR_NOT_WRITABLE'], 413: ['ENTITY_TOO_LARGE'], 415: ['HTTP_415'],
      },
    }),
    delete: operation('user', {
      operationId: 'deleteHold', tags: ['packages'], summary: 'Lift a hold (main node, write permission)',
      parameters: [PROCESSOR_PATH, PACKAGE_PATH],
      responses: { 204: { description: 'Lifted' } },
      errors: { 400: ['INVALID_PROCESSOR_NAME', 'MAIN_NODE_ONLY', 'NO_PACKAGE_MANAGER'], 403: ['PROCESSOR_NOT_ACCESSIBLE', 'PROCESSOR_NOT_WRITABLE'], 404: ['HOLD_NOT_FOUND'] },
    }),
  },
};
