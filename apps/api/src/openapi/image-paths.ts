import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { WEBHOOK_EVENT_TYPES } from '@renditions/events';
import {
  deliveryResourceSchema,
  imageResourceSchema,
  metadataResourceSchema,
  similarImagesSchema,
  uploadedImageSchema,
} from '@renditions/pipeline';
import { uploadFields } from '../routes/images';
import { similarQuery } from '../routes/similar';
import { imagePath, OWNER_SECURITY } from './parameters';
import { errorResponses, json, rateLimitHeaders } from './responses';

/** The body of a webhook and the `data:` of each live event. */
const imageEventSchema = z
  .object({
    type: z.enum([...WEBHOOK_EVENT_TYPES, 'image.updated']),
    timestamp: z.iso.datetime(),
    data: imageResourceSchema,
  })
  .meta({ id: 'ImageEvent' });

const uploadForm = uploadFields.extend({
  image: z.file().meta({ description: 'The image: JPEG, PNG, GIF, WebP, AVIF or TIFF, sniffed from its bytes' }),
});

export const imagePaths: ZodOpenApiPathsObject = {
  '/api/v1/images': {
    post: {
      operationId: 'uploadImage',
      summary: 'Upload an image',
      description:
        'Answers as soon as the original is durably stored, before any processing; the renditions flip to `ready` ' +
        'as they are made (poll the image, or follow its events). A refused upload leaves nothing behind.',
      tags: ['images'],
      requestBody: { required: true, content: { 'multipart/form-data': { schema: uploadForm } } },
      responses: {
        '201': {
          description: 'Stored; processing has started',
          headers: rateLimitHeaders.extend({ Location: z.string().meta({ description: 'The image resource' }) }),
          ...json(uploadedImageSchema),
        },
        ...errorResponses(400, 413, 415, 422, 429, 503),
      },
    },
  },
  '/api/v1/images/{id}': {
    get: {
      operationId: 'getImage',
      summary: 'The image resource (poll it until `status` settles)',
      tags: ['images'],
      requestParams: { path: imagePath },
      responses: { '200': { description: 'The image', ...json(imageResourceSchema) }, ...errorResponses(404, 410, 503) },
    },
    delete: {
      operationId: 'deleteImage',
      summary: 'Delete an image',
      description: 'From the `204` on the id is `410` and its URLs `404`; the bytes are removed by durable work.',
      tags: ['images'],
      security: OWNER_SECURITY,
      requestParams: { path: imagePath },
      responses: { '204': { description: 'Deleted' }, ...errorResponses(403, 404, 410, 503) },
    },
  },
  '/api/v1/images/{id}/retry': {
    post: {
      operationId: 'retryImage',
      summary: 'Run the unfinished work of a `failed` image again',
      tags: ['images'],
      security: OWNER_SECURITY,
      requestParams: { path: imagePath },
      responses: {
        '202': { description: 'Processing again; what was ready stays', ...json(imageResourceSchema) },
        ...errorResponses(403, 404, 409, 410, 503),
      },
    },
  },
  '/api/v1/images/{id}/similar': {
    get: {
      operationId: 'findSimilarImages',
      summary: 'Perceptual near-duplicates, nearest first (at most 50)',
      description: 'Empty while `phash_status` is not `ready`: there is nothing to compare yet.',
      tags: ['images'],
      requestParams: { path: imagePath, query: similarQuery },
      responses: {
        '200': { description: 'Images within `max_distance` bits', ...json(similarImagesSchema) },
        ...errorResponses(400, 404, 410, 451, 503),
      },
    },
  },
  '/api/v1/images/{id}/metadata': {
    get: {
      operationId: 'getImageMetadata',
      summary: "The original's private EXIF summary (camera, lens, taken-at, GPS, exposure)",
      tags: ['images'],
      security: OWNER_SECURITY,
      requestParams: { path: imagePath },
      responses: { '200': { description: 'Read before stripping', ...json(metadataResourceSchema) }, ...errorResponses(403, 404, 410, 503) },
    },
  },
  '/api/v1/images/{id}/deliveries': {
    get: {
      operationId: 'listImageDeliveries',
      summary: 'Every webhook delivery attempt for the image, newest first',
      tags: ['images'],
      security: OWNER_SECURITY,
      requestParams: { path: imagePath },
      responses: {
        '200': { description: 'The delivery log', ...json(z.object({ items: z.array(deliveryResourceSchema) })) },
        ...errorResponses(403, 404, 410, 503),
      },
    },
  },
  '/api/v1/images/{id}/events': {
    get: {
      operationId: 'streamImageEvents',
      summary: 'Live events (Server-Sent Events) until the image settles',
      description:
        'The current resource as `image.updated`, then every change. Each event\'s `event:` is its type and its `data:` ' +
        'an `ImageEvent` (the same JSON body as a webhook). The stream ends once the image settles.',
      tags: ['images'],
      requestParams: { path: imagePath },
      responses: {
        '200': {
          description: 'The event stream',
          content: {
            // OpenAPI 3.1 has no schema for the items of a stream (3.2's itemSchema): the schema is each event's `data:`.
            'text/event-stream': { schema: imageEventSchema },
          },
        },
        '204': { description: 'An EventSource reconnecting (Last-Event-ID) to a stream that already ended: stop reconnecting' },
        ...errorResponses(404, 410, 503),
      },
    },
  },
};

/** The webhooks a `callback_url` receives (Standard Webhooks signing), for the document's `webhooks` section. */
export const imageWebhooks: ZodOpenApiPathsObject = {
  imageEvent: {
    post: {
      summary: 'An image event, POSTed to the upload\'s callback_url',
      description:
        'Signed per Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 ' +
        'of "id.timestamp.body">`. A non-2xx answer or a timeout is retried with exponential backoff.',
      // A reference, not the schema: zod-openapi renders request bodies as input, which would give the resource a
      // second component; the event is registered once, by the event stream above, as what the service sends.
      requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/ImageEvent' } } } },
      responses: { '200': { description: 'Any 2xx acknowledges the event' } },
    },
  },
};
