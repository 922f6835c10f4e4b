import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';

// ajv-formats is CommonJS with a default export TypeScript's ESM view does not see as callable.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv2020) => void;

type Json = Record<string, unknown>;
interface Operation {
  pattern: RegExp;
  pointer: string;
  responses: Record<string, Json>;
}

/** The answers the document describes as JSON: the API's, and the health endpoints'. The CDN routes serve bytes. */
const isCheckedPath = (pathname: string) => pathname.startsWith('/api/v1/') || pathname === '/healthz' || pathname === '/readyz';

/** The contract's error shape, for answers from no documented operation (the catch-all 404). */
const ANY_ERROR = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

const escapePointer = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

/** `/api/v1/images/{id}/similar` as a pattern for concrete paths: a parameter is one non-empty path segment. */
function templatePattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * Checks answers against the OpenAPI document the API serves: the status must be one the operation lists, its
 * required headers present, and a JSON body must match the schema of that status (ajv, JSON Schema 2020-12, as
 * OpenAPI 3.1 says). Returns what is wrong, or nothing.
 */
export class OpenApiResponseChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly operations = new Map<string, Operation[]>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: Json) {
    addFormats(this.ajv);
    // Formats OpenAPI uses that JSON Schema does not define; zod also writes the matching `pattern`.
    this.ajv.addFormat('binary', true).addFormat('base64', true);
    this.ajv.addSchema(document, 'openapi.json');
    for (const [template, item] of Object.entries(document.paths as Record<string, Json>)) {
      for (const [method, operation] of Object.entries(item)) {
        const list = this.operations.get(method.toUpperCase()) ?? [];
        list.push({
          pattern: templatePattern(template),
          pointer: `#/paths/${escapePointer(template)}/${method}`,
          responses: (operation as { responses: Record<string, Json> }).responses,
        });
        this.operations.set(method.toUpperCase(), list);
      }
    }
  }

  /** What does not match the document in this answer; an empty list when it matches or is not checked. */
  async problems(method: string, url: URL, response: Response): Promise<string[]> {
    if (!isCheckedPath(url.pathname)) return [];
    const operation = this.operations.get(method === 'HEAD' ? 'GET' : method)?.find(({ pattern }) => pattern.test(url.pathname));
    const contentType = response.headers.get('content-type') ?? '';
    if (!operation) {
      // The catch-all 404 (and 405-like misses) still answer in the contract's error format.
      if (response.status < 400) return [`${response.status} from a route the document does not describe`];
      if (!contentType.startsWith('application/json')) return [`an error answered as ${contentType || 'no content type'}`];
      return this.validate(ANY_ERROR, 'error body', await response.clone().json());
    }
    const status = String(response.status);
    const key = [status, `${status[0]}XX`, 'default'].find((candidate) => operation.responses[candidate]);
    if (!key) return [`status ${status}, which the operation does not list (${Object.keys(operation.responses).join(', ')})`];
    const [pointer, definition] = this.resolve(`${operation.pointer}/responses/${key}`, operation.responses[key]!);
    const problems: string[] = [];
    for (const [name, header] of Object.entries((definition.headers ?? {}) as Record<string, Json>)) {
      if (header.required && !response.headers.has(name)) problems.push(`status ${status} without its required ${name} header`);
    }
    const content = definition.content as Record<string, Json> | undefined;
    const hasBody = method !== 'HEAD' && status !== '204' && status !== '304';
    if (!hasBody) return problems;
    const mediaType = contentType.split(';')[0]!.trim();
    if (!content) return mediaType ? [...problems, `a ${mediaType} body where the document says none`] : problems;
    if (!content[mediaType]) return [...problems, `a ${mediaType || 'untyped'} body where the document says ${Object.keys(content).join(' or ')}`];
    if (mediaType !== 'application/json') return problems;
    const schema = { $ref: `openapi.json${pointer}/content/${escapePointer(mediaType)}/schema` };
    return [...problems, ...this.validate(schema, `${status} body`, await response.clone().json())];
  }

  /** A response object, following its `$ref` to the component. */
  private resolve(pointer: string, response: Json): [string, Json] {
    const ref = response.$ref as string | undefined;
    if (!ref) return [pointer, response];
    const target = ref.slice(2).split('/').reduce<Json>((node, token) => node[token.replace(/~1/g, '/').replace(/~0/g, '~')] as Json, this.document);
    return [ref, target];
  }

  private validate(schema: Json, what: string, body: unknown): string[] {
    const key = JSON.stringify(schema);
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.validators.set(key, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((error) => `${what}: ${error.instancePath || '(root)'} ${error.message} (${JSON.stringify(error.params)})`);
  }
}

const checkers = new Map<string, OpenApiResponseChecker>();
const mismatches = new Map<string, string[]>();
const realFetch = globalThis.fetch;

function requestOf(input: Parameters<typeof fetch>[0], init?: RequestInit): { method: string; url: URL } {
  const request = input instanceof Request ? input : undefined;
  const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
  return { method, url: new URL(request ? request.url : String(input)) };
}

/** fetch(), checking every answer from a registered API against that API's OpenAPI document. */
const checkedFetch: typeof fetch = async (input, init) => {
  const response = await realFetch(input, init);
  const request = requestOf(input, init);
  const url = new URL(response.url || request.url);
  const checker = checkers.get(url.origin);
  if (!checker) return response;
  const problems = await checker.problems(request.method, url, response);
  if (problems.length === 0) return response;
  const message = `${request.method} ${url.pathname}${url.search} answered ${response.status}, which does not match the OpenAPI document:\n  ${problems.join('\n  ')}`;
  mismatches.get(url.origin)?.push(message);
  throw new Error(message);
};

/**
 * From now on every fetch() answer from the API at `baseUrl` is checked against the OpenAPI document it serves: a
 * mismatch rejects that fetch(), failing the test that made it. Mismatches a test swallowed (a fetch() whose
 * failure it expected) are returned by the function this returns, for the context to fail on when it stops.
 */
export async function checkAnswersAgainstOpenApi(baseUrl: string): Promise<() => string[]> {
  const origin = new URL(baseUrl).origin;
  // Connection: close leaves no pooled connection behind: the check must not change what a test observes, and some
  // count connections or uploads in flight per client.
  const response = await realFetch(`${baseUrl}/api/v1/openapi.json`, { headers: { Connection: 'close' } });
  if (!response.ok) throw new Error(`GET /api/v1/openapi.json answered ${response.status}`);
  checkers.set(origin, new OpenApiResponseChecker((await response.json()) as Json));
  mismatches.set(origin, []);
  globalThis.fetch = checkedFetch;
  return () => {
    const found = mismatches.get(origin) ?? [];
    checkers.delete(origin);
    mismatches.delete(origin);
    return found;
  };
}
