import type { IncomingHttpHeaders } from 'node:http';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ExecutionContext } from 'ava';
import type { Method, OpenApiDocument } from '../../src/http/openapi/spec-types.ts';

/** What a test got back from the service (got's response, or one made from node:http). */
export interface Answer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const DOCUMENT_ID = 'procenv:openapi';

/** A JSON pointer segment, URI-encoded (paths hold `/`, `{` and `}`). */
const segment = (s: string) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'));

/** `type/subtype`, without parameters, lower case. */
export const essenceOf = (contentType: string) => contentType.split(';')[0]!.trim().toLowerCase();

/**
 * Every object schema of the components, as the tests read them: an object with listed properties takes no other
 * property (`unevaluatedProperties: false`), so that a field the service sends without the document naming it fails
 * a test. The document itself stays open, for clients built from it to accept fields added later.
 */
function closedObjects(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(closedObjects);
  if (value === null || typeof value !== 'object') return value;
  const out = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, closedObjects(v)]));
  if (out.type === 'object' && out.properties && !('additionalProperties' in out) && !('unevaluatedProperties' in out)) out.unevaluatedProperties = false;
  return out;
}

/**
 * Checks the service's answers against an OpenAPI 3.1 document with ajv's JSON Schema 2020-12 validator: the status
 * must be one the operation lists, its required headers present and every documented header valid, and the body
 * of the documented media type and schema (stricter than the document: see `closedObjects`).
 */
export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ strict: true, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    addFormats.default(this.ajv);
    // The document's own keywords, so that ajv's strict mode takes the document as the root of its schemas.
    this.ajv.addVocabulary(['openapi', 'jsonSchemaDialect', 'info', 'tags', 'paths', 'components']);
    const strict = { ...document, components: { ...document.components, schemas: closedObjects(document.components.schemas) } };
    this.ajv.addSchema({ ...strict, $id: DOCUMENT_ID });
  }

  private validator(pointer: string[]): ValidateFunction {
    const id = `${DOCUMENT_ID}#/${pointer.map(segment).join('/')}`;
    let validate = this.compiled.get(id);
    if (!validate) {
      validate = this.ajv.compile({ $ref: id });
      this.compiled.set(id, validate);
    }
    return validate;
  }

  /** Validates a value against a component schema (`StreamMessage`, …); answers ajv's errors, or undefined. */
  errorsOf(schemaName: string, value: unknown): string | undefined {
    const validate = this.validator(['components', 'schemas', schemaName]);
    return validate(value) ? undefined : this.ajv.errorsText(validate.errors, { separator: '\n' });
  }

  /** Asserts that `answer`, to `method path` (the document's path, `{name}` style), is one the document describes. */
  conforms(t: ExecutionContext, method: Method, path: string, answer: Answer): void {
    const what = `${method.toUpperCase()} ${path} → ${answer.statusCode}`;
    const operation = this.document.paths[path]?.[method];
    if (!operation) return void t.fail(`${method.toUpperCase()} ${path} is not in the document`);
    const status = String(answer.statusCode);
    const response = operation.responses[status];
    if (!response) return void t.fail(`${what}: the document does not list this status; body: ${answer.body.slice(0, 300)}`);
    const at = ['paths', path, method, 'responses', status];

    for (const [name, spec] of Object.entries(response.headers ?? {})) {
      const value = answer.headers[name.toLowerCase()];
      if (value === undefined) {
        t.false(spec.required ?? false, `${what}: header ${name} is required`);
        continue;
      }
      const validate = this.validator([...at, 'headers', name, 'schema']);
      t.true(validate(value), `${what}: header ${name}: ${JSON.stringify(value)}: ${this.ajv.errorsText(validate.errors)}`);
    }

    if (!response.content) {
      t.is(answer.body, '', `${what}: the document describes no body`);
      return;
    }
    const contentType = String(answer.headers['content-type'] ?? '');
    const mediaType = Object.keys(response.content).find((type) => essenceOf(type) === essenceOf(contentType));
    if (!mediaType) return void t.fail(`${what}: Content-Type ${contentType} is not one of ${Object.keys(response.content).join(', ')}`);
    if (essenceOf(mediaType) !== 'application/json') return void t.pass();
    let body: unknown;
    try {
      body = JSON.parse(answer.body);
    } catch {
      return void t.fail(`${what}: the body is not JSON: ${JSON.stringify(answer.body.slice(0, 200))}`);
    }
    const validate = this.validator([...at, 'content', mediaType, 'schema']);
    t.true(validate(body), `${what}: ${this.ajv.errorsText(validate.errors, { separator: '\n' })}\nbody: ${answer.body.slice(0, 500)}`);
  }
}
