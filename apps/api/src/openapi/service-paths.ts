import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { errorResponses, json, retryAfterHeader } from './responses';

const readiness = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z
    .object({ database: z.string(), redis: z.string(), storage: z.string() })
    .meta({ description: 'Each dependency: `ok`, or why its probe failed' }),
});

/** What operators and tools read: health, metrics and this document. */
export const servicePaths: ZodOpenApiPathsObject = {
  '/healthz': {
    get: {
      operationId: 'liveness',
      summary: 'Liveness',
      tags: ['service'],
      responses: { '200': { description: 'The process answers', ...json(z.object({ status: z.literal('ok') })) } },
    },
  },
  '/readyz': {
    get: {
      operationId: 'readiness',
      summary: 'Readiness: database, Redis and storage each answer within 2 s',
      tags: ['service'],
      responses: {
        '200': { description: 'Ready', ...json(readiness) },
        '503': { description: 'A dependency is down', headers: z.object({ 'Retry-After': retryAfterHeader }), ...json(readiness) },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics (behind `Authorization: Bearer <METRICS_TOKEN>` when that is set)',
      tags: ['service'],
      responses: {
        '200': { description: 'Prometheus text exposition', content: { 'text/plain': { schema: z.string() } } },
        ...errorResponses(401),
      },
    },
  },
  '/api/v1/openapi.json': {
    get: {
      operationId: 'openApiDocument',
      summary: 'This document',
      tags: ['service'],
      responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.looseObject({ openapi: z.string() }) } } } },
    },
  },
};
