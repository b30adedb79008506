import { INVALID_PARAM_CODES, json, operation, path, PROCESSOR_PATH, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** The vulnerability audit (README "Vulnerability audit"): read permission decides what is audited. */

const FILTERS = [
  query('package', 'only this package (any spelling PEP 503 takes for it)', { type: 'string', maxLength: 200 }),
  query('severity', 'a comma list of LOW, MODERATE (or MEDIUM), HIGH, CRITICAL: only advisories the database gives one of these levels', { type: 'string', examples: ['HIGH,CRITICAL'] }),
  query('ignored', 'true: also the advisories an active ignore rule hides, each marked with its rule', { enum: ['true', 'false', '1', '0'] }),
];

export const auditPaths: Record<string, PathItem> = {
  '/processors/{name}/audit': {
    get: operation('user', {
      operationId: 'auditProcessor', tags: ['audit'], summary: 'The processor\'s installed packages that advisories affect (read permission)',
      description: 'Against the offline OSV database (`advisories`); no database configured: no findings and `database.configured` false.',
      parameters: [PROCESSOR_PATH, ...FILTERS],
      responses: { 200: json('The findings', ref('ProcessorAudit')) },
      errors: { 400: ['INVALID_PROCESSOR_NAME', ...INVALID_PARAM_CODES], 403: ['PROCESSOR_NOT_ACCESSIBLE'] },
    }),
  },
  '/audit': {
    get: operation('user', {
      operationId: 'auditFleet', tags: ['audit'], summary: 'The findings of every processor you can read',
      parameters: [query('processor', 'only this processor', { type: 'string', maxLength: 128 }), ...FILTERS],
      responses: { 200: json('The findings by processor', ref('FleetAudit')) },
      errors: { 400: INVALID_PARAM_CODES },
    }),
  },
  '/audit/ignores': {
    get: operation('user', {
      operationId: 'listIgnoreRules', tags: ['audit'], summary: 'The ignore rules you can see: every processor\'s, and those of processors you can read',
      responses: { 200: json('The rules, oldest first', { type: 'array', items: ref('IgnoreRuleView') }) },
    }),
    post: operation('user', {
      operationId: 'createIgnoreRule', tags: ['audit'], summary: 'Hide an advisory from audits until a date (a processor: write permission; every processor: administrators)',
      requestBody: { required: true, content: { 'application/json': { schema: ref('NewIgnoreRule') } } },
      responses: { 201: json('The rule', ref('IgnoreRule')) },
      errors: { 400: ['INVALID_BODY'], 403: ['ADMIN_ONLY', 'PROCESSOR_NOT_ACCESSIBLE', 'PROCESSOR_NOT_WRITABLE'], 413: ['ENTITY_TOO_LARGE'], 415: ['HTTP_415'] },
    }),
  },
  '/audit/ignores/{id}': {
    delete: operation('user', {
      operationId: 'deleteIgnoreRule', tags: ['audit'], summary: 'Remove an ignore rule (the right that made it)',
      parameters: [path('id', 'the rule\'s id')],
      responses: { 204: { description: 'Removed' } },
      errors: { 403: ['ADMIN_ONLY', 'PROCESSOR_NOT_WRITABLE'], 404: ['IGNORE_RULE_NOT_FOUND'] },
    }),
  },
};
