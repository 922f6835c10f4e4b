import { z } from 'zod';
import type { ZodOpenApiResponseObject, ZodOpenApiResponsesObject } from 'zod-openapi';

/**
 * The contract's error codes by HTTP status (libs/errors). Each status's schema allows only its own codes, so an
 * answer whose code does not fit its status fails the document's check in the e2e suite.
 */
const ERRORS = {
  400: { codes: ['missing_file', 'invalid_request'], description: 'Malformed request: a field, query or body failed validation' },
  401: { codes: ['unauthorized'], description: 'Admin credentials (HTTP Basic) are required' },
  403: { codes: ['forbidden'], description: 'Neither a matching X-Delete-Token nor admin credentials' },
  404: { codes: ['not_found'], description: 'No such image (any id that does not exist, malformed or not)' },
  409: { codes: ['conflict'], description: 'The image is not in a state that allows this (yet)' },
  410: { codes: ['gone'], description: 'The image was deleted' },
  413: { codes: ['file_too_large', 'invalid_request'], description: 'The file (or a JSON body over 64 KB) is too large' },
  415: { codes: ['unsupported_type'], description: 'Not an accepted image type (sniffed from the bytes), or an unsupported body encoding' },
  422: { codes: ['invalid_image', 'too_many_pixels'], description: 'The image cannot be read, or has too many pixels' },
  429: { codes: ['rate_limited'], description: 'Too many uploads from this client; try again after Retry-After' },
  451: { codes: ['unavailable_for_legal_reasons'], description: 'Taken down by moderation' },
  503: { codes: ['unavailable'], description: 'A dependency (database, Redis, storage) is unavailable; try again after Retry-After' },
} as const;

export type ErrorStatus = keyof typeof ERRORS;

/** A JSON body of this schema. */
export const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });

export const retryAfterHeader = z.string().regex(/^\d+$/).meta({ description: 'Seconds to wait before trying again' });

/** The IETF draft's fields (draft-ietf-httpapi-ratelimit-headers-10), sent while uploads are rate limited. */
export const rateLimitHeaders = z.object({
  'RateLimit-Policy': z.string().optional().meta({ description: 'e.g. `"uploads";q=30;w=60`', example: '"uploads";q=30;w=60' }),
  RateLimit: z.string().optional().meta({ description: 'e.g. `"uploads";r=27;t=42`', example: '"uploads";r=27;t=42' }),
});

function errorResponse(status: ErrorStatus): ZodOpenApiResponseObject {
  const { codes, description } = ERRORS[status];
  const retries = status === 429 || status === 503;
  return {
    id: `Error${status}`,
    description,
    ...(retries ? { headers: z.object({ 'Retry-After': retryAfterHeader }) } : {}),
    content: {
      'application/json': {
        schema: z.object({ error: z.object({ code: z.enum(codes), message: z.string() }) }),
      },
    },
  };
}

// One object per status: zod-openapi registers a component by identity, and refers to it wherever it is reused.
const ERROR_RESPONSES = new Map(
  Object.keys(ERRORS).map((key) => {
    const status = Number(key) as ErrorStatus;
    return [status, errorResponse(status)];
  }),
);

/** The error answers of an operation, one reusable component per status. */
export function errorResponses(...statuses: ErrorStatus[]): ZodOpenApiResponsesObject {
  return Object.fromEntries(statuses.map((status) => [String(status), ERROR_RESPONSES.get(status)!]));
}

/** What every JSON request body can be refused with before its schema runs: malformed JSON, too large, an unknown encoding. */
export const JSON_BODY_ERRORS: ErrorStatus[] = [400, 413, 415];
