import { EXPORT_FORMATS } from '../../domain/generation-export.ts';
import { INVALID_PARAM_CODES, PARAM_CODES, PROCESSOR_PATH, header, json, operation, path, query } from './responses.ts';
import { ref, type PathItem } from './spec-types.ts';

/** The generations of a processor's environment (README "Generations"): read permission, as listPackages. */

const READ_400 = ['INVALID_PROCESSOR_NAME'];
const READ_403 = ['PROCESSOR_NOT_ACCESSIBLE'];
const NUMBER_400 = ['INVALID_GENERATION_NUMBER'];
const NOT_FOUND_404 = ['GENERATION_NOT_FOUND'];
const GENERATION_NUMBER = { type: 'string', pattern: '^[1-9][0-9]{0,9}$', examples: ['1'] };
const NUMBER_PATH = path('number', 'the generation\'s number (from 1, per processor and node)', GENERATION_NUMBER);

export const generationPaths: Record<string, PathItem> = {
  '/processors/{name}/generations': {
    get: operation('user', {
      operationId: 'listGenerations', tags: ['generations'], summary: 'A processor\'s generations, newest first, without their packages',
      description: 'Numbers have no gaps: at offset 0 the first one\'s number is the count.',
      parameters: [
        PROCESSOR_PATH,
        query('limit', 'at most this many', { type: 'integer', minimum: 1, maximum: 500, default: 50 }),
        query('offset', 'skip this many', { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 }),
      ],
      responses: { 200: json('The generations', { type: 'array', items: ref('GenerationSummary') }) },
      errors: { 400: [...INVALID_PARAM_CODES, ...READ_400], 403: READ_403 },
    }),
  },
  '/processors/{name}/generations/diff': {
    get: operation('user', {
      operationId: 'diffGenerations', tags: ['generations'], summary: 'What changed from one generation to another',
      description: 'pip versions are ordered by PEP 440; a version that cannot be ordered, or a conda rebuild of one version, is `changed`. '
        + '`requested: false` marks a package that came in as a dependency.',
      parameters: [
        PROCESSOR_PATH,
        query('from', 'the generation compared from', GENERATION_NUMBER, true),
        query('to', 'the generation compared to (may be the older one)', GENERATION_NUMBER, true),
      ],
      responses: { 200: json('The difference', ref('GenerationDiff')) },
      errors: { 400: [...PARAM_CODES, ...NUMBER_400, ...READ_400], 403: READ_403, 404: NOT_FOUND_404 },
    }),
  },
  '/processors/{name}/generations/{number}': {
    get: operation('user', {
      operationId: 'getGeneration', tags: ['generations'], summary: 'One generation with its whole package set (the manifest)',
      parameters: [PROCESSOR_PATH, NUMBER_PATH],
      responses: { 200: json('The manifest', ref('Generation')) },
      errors: { 400: [...NUMBER_400, ...READ_400], 403: READ_403, 404: NOT_FOUND_404 },
    }),
  },
  '/processors/{name}/generations/{number}/export': {
    get: operation('user', {
      operationId: 'exportGeneration', tags: ['generations'], summary: 'One generation as a file to build an environment from',
      description: '`requirements` (pip): a requirements.txt pinning every package; `environment` (conda): an environment.yml with channel, version '
        + 'and build per package; `json`: the manifest. An environment installed from it has the generation\'s hash.',
      parameters: [
        PROCESSOR_PATH, NUMBER_PATH,
        query('format', 'the kind of file', { enum: [...EXPORT_FORMATS], default: 'json' }),
      ],
      responses: {
        200: {
          description: 'The file',
          headers: { 'Content-Disposition': header('`attachment; filename="<name>-generation-<n>[-requirements.txt|-environment.yml|.json]"`', { type: 'string' }, true) },
          content: {
            'text/plain; charset=utf-8': { schema: { type: 'string', description: 'requirements.txt' } },
            'application/x-yaml; charset=utf-8': { schema: { type: 'string', description: 'environment.yml' } },
            'application/json; charset=utf-8': { schema: ref('Generation') },
          },
        },
      },
      errors: { 400: [...INVALID_PARAM_CODES, ...NUMBER_400, ...READ_400, 'EXPORT_FORMAT_UNSUPPORTED'], 403: READ_403, 404: NOT_FOUND_404 },
    }),
  },
};
