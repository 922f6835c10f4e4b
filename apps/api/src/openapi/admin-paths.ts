import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { blockedHashResourceSchema, imageResourceSchema } from '@renditions/pipeline';
import { blockBody } from '../routes/admin-blocklist';
import { verdictBody } from '../routes/admin-moderation';
import { ADMIN_SECURITY, imagePath } from './parameters';
import { errorResponses, json, JSON_BODY_ERRORS } from './responses';

const blocklistEntryPath = z.object({ id: z.uuid().meta({ description: 'The blocklist entry id' }) });

export const adminPaths: ZodOpenApiPathsObject = {
  '/api/v1/admin/images/{id}/moderation': {
    post: {
      operationId: 'decideModeration',
      summary: "Settle an image's moderation",
      description: '`reject` takes the image down everywhere (451 on every URL, bytes removed, CDN purged); a rejected image stays rejected.',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      requestParams: { path: imagePath },
      requestBody: { required: true, ...json(verdictBody) },
      responses: {
        '200': { description: 'The image with its new verdict', ...json(imageResourceSchema) },
        ...errorResponses(...JSON_BODY_ERRORS, 401, 404, 409, 410, 503),
      },
    },
  },
  '/api/v1/admin/blocklist': {
    post: {
      operationId: 'blockHash',
      summary: 'Block a perceptual hash, given as 16 hex digits or by an image',
      description: 'Uploads within 6 bits of it are rejected by moderation from then on. `409` while the image has no hash yet.',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      requestBody: { required: true, ...json(blockBody) },
      responses: {
        '201': {
          description: 'Blocked',
          headers: z.object({ Location: z.string().meta({ description: 'The entry' }) }),
          ...json(blockedHashResourceSchema),
        },
        ...errorResponses(...JSON_BODY_ERRORS, 401, 404, 409, 410, 503),
      },
    },
    get: {
      operationId: 'listBlocklist',
      summary: 'The blocklist',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      responses: {
        '200': { description: 'Every entry', ...json(z.object({ items: z.array(blockedHashResourceSchema) })) },
        ...errorResponses(401, 503),
      },
    },
  },
  '/api/v1/admin/blocklist/{id}': {
    delete: {
      operationId: 'unblockHash',
      summary: 'Remove a blocklist entry',
      tags: ['admin'],
      security: ADMIN_SECURITY,
      requestParams: { path: blocklistEntryPath },
      responses: { '204': { description: 'Removed' }, ...errorResponses(401, 404, 503) },
    },
  },
};
