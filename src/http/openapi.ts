import { readFileSync } from 'node:fs';
import { CLUSTER_KEY_HEADER } from '../nodes/cluster-headers.ts';
import { auditPaths } from './openapi/paths-audit.ts';
import { clusterPaths } from './openapi/paths-cluster.ts';
import { generationPaths } from './openapi/paths-generations.ts';
import { batchPaths } from './openapi/paths-batches.ts';
import { holdPaths, packagePaths } from './openapi/paths-packages.ts';
import { planPaths } from './openapi/paths-plans.ts';
import { operationPaths } from './openapi/paths-operations.ts';
import { servicePaths } from './openapi/paths-service.ts';
import { wasdiPaths } from './openapi/paths-wasdi.ts';
import { windowPaths } from './openapi/paths-windows.ts';
import { schemas } from './openapi/schemas.ts';
import { auditSchemas } from './openapi/schemas-audit.ts';
import type { OpenApiDocument } from './openapi/spec-types.ts';

export type { OpenApiDocument } from './openapi/spec-types.ts';

/** The same file from `src/http/` and from the compiled `dist/http/`, both two levels under the checkout. */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * procenv's OpenAPI 3.1 document, served at GET /openapi.json: every route the service answers, with its parameters,
 * answers and error answers. `test/http/openapi.test.ts` holds it to the routes the app registers and validates the
 * service's answers against its schemas, so a route changed without its entry here fails a test.
 */
export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.1',
  jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
  info: {
    title: 'procenv',
    version,
    summary: 'The Python environments of WASDI processors: WASDI\'s /packageManager API, durable pip/conda operations, main → compute node fan-out',
    description: [
      'Every error answer is JSON `{ "error": { "code", "message", "details"? } }`; `code` is stable. Each operation lists the codes of each status.',
      'Besides those, any route may answer 500 `INTERNAL` (a fault procenv did not expect; logged), an unknown path 404 `ROUTE_NOT_FOUND`,',
      'and a method a path does not take 405 `METHOD_NOT_ALLOWED` with `Allow`. Every answer carries `x-request-id` (the caller\'s, when sane).',
      'Timestamps are integers, ms since the epoch. Permissions: README "Permissions".',
    ].join(' '),
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  },
  tags: [
    { name: 'wasdi', description: 'WASDI\'s /packageManager API, as WASDI\'s web client and launchers call it' },
    { name: 'operations', description: 'procenv\'s operation API: follow, list, cancel, several commands at once' },
    { name: 'events', description: 'Live events (Server-Sent Events)' },
    { name: 'packages', description: 'The packages across every processor you can read: summary, search, count; holds' },
    { name: 'fleet', description: 'Batches of changes across processors, and the updates available to them' },
    { name: 'audit', description: 'Installed packages against an offline OSV advisory database; ignore rules' },
    { name: 'generations', description: 'Every state of a processor\'s environment: list, manifest, difference, export; plans and restores' },
    { name: 'schedules', description: 'Maintenance windows that scheduled operations wait for' },
    { name: 'cluster', description: 'The compute nodes as the main node sees them' },
    { name: 'cluster-internal', description: 'Node-to-node calls (cluster key)' },
    { name: 'catalog', description: 'The processors folder' },
    { name: 'panel', description: 'The environment panel: its page and what it reads first' },
    { name: 'operator', description: 'Liveness, readiness, metrics' },
    { name: 'meta', description: 'This document' },
  ],
  paths: {
    ...wasdiPaths, ...operationPaths, ...generationPaths, ...planPaths, ...packagePaths, ...holdPaths, ...batchPaths, ...windowPaths, ...auditPaths,
    ...clusterPaths, ...servicePaths,
  },
  components: {
    schemas: { ...schemas, ...auditSchemas },
    securitySchemes: {
      sessionToken: {
        type: 'apiKey', in: 'header', name: 'x-session-token',
        description: 'A WASDI session (`procenv session create <user>`); idle sessions expire after `sessionIdleMinutes`.',
      },
      clusterKey: {
        type: 'apiKey', in: 'header', name: CLUSTER_KEY_HEADER,
        description: 'Node-to-node calls: the cluster\'s shared key (`clusterKey`). The call acts for the user in `x-procenv-user` with every right; '
          + '`x-procenv-via` lists the nodes it passed through (at most 8 valid node codes).',
      },
      metricsBearer: { type: 'http', scheme: 'bearer', description: '`metricsToken`, when set, for GET /metrics' },
    },
  },
};
