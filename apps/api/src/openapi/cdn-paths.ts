import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import { RENDITION_FORMATS, RENDITION_SIZES } from '@renditions/imaging';
import { IMAGE_ID_PATTERN, SUFFIXED_NAME_PATTERN } from '@renditions/pipeline';
import { errorResponses } from './responses';

const id = z.string().regex(IMAGE_ID_PATTERN).meta({ example: 'k3J9xQ2' });
const size = z.enum(RENDITION_SIZES).meta({ description: 's 90² crop, b 160² crop, t 160, m 320, l 640, h 1024 (inside)' });

const imageHeaders = z.object({
  ETag: z.string().meta({ description: 'Strong; send it back as If-None-Match (304) or If-Range' }),
  'Cache-Control': z.string().meta({ description: '`public, max-age=31536000, immutable` once final, max-age at most 60 before' }),
  'X-Rendition-Status': z
    .enum(['pending', 'processing', 'ready', 'failed'])
    .optional()
    .meta({ description: 'Renditions: `ready`, or why the metadata-free original stands in for it' }),
});

function imageResponses(headers: z.ZodObject = imageHeaders): ZodOpenApiResponsesObject {
  return {
    '200': { description: 'The image, without metadata', headers, content: { 'image/*': { schema: z.string().meta({ format: 'binary' }) } } },
    '206': { description: 'A single byte range (If-Range must name the current strong ETag)', headers },
    '304': { description: 'Not modified (If-None-Match)', headers },
    '416': { description: 'The range lies outside the image' },
    ...errorResponses(404, 451, 503),
  };
}

const cdnOperation = (operation: Omit<ZodOpenApiOperationObject, 'responses' | 'tags'>, responses = imageResponses()) => ({
  get: { ...operation, tags: ['cdn'], responses },
});

/**
 * The CDN origin's image URLs. Every answer carries `X-Content-Type-Options: nosniff`, `Content-Security-Policy:
 * default-src 'none'; sandbox` and `Access-Control-Allow-Origin: *`; HEAD and single ranges work everywhere.
 */
export const cdnPaths: ZodOpenApiPathsObject = {
  '/i/{id}.{ext}': cdnOperation({
    operationId: 'getOriginal',
    summary: 'The original, without its metadata',
    requestParams: { path: z.object({ id, ext: z.string().meta({ description: 'The original\'s extension', example: 'jpg' }) }) },
  }),
  '/i/{id}/{size}.{format}': cdnOperation({
    operationId: 'getRendition',
    summary: 'A rendition; the metadata-free original (max-age 60) until it is ready',
    requestParams: { path: z.object({ id, size, format: z.enum(RENDITION_FORMATS) }) },
  }),
  '/i/{id}/{size}': cdnOperation(
    {
      operationId: 'getNegotiatedRendition',
      summary: 'A rendition in the best format the Accept header names',
      description:
        'AVIF if `Accept` lists `image/avif`, else WebP if it lists `image/webp`, else JPEG (`*/*` and `image/*` get JPEG; ' +
        '`q=0` refuses a format). While that format is not ready: the best ready one of those accepted, else the ' +
        'metadata-free original; both with max-age at most 60.',
      requestParams: { path: z.object({ id, size }), header: z.object({ Accept: z.string().optional() }) },
    },
    imageResponses(imageHeaders.extend({ Vary: z.literal('Accept') })),
  ),
  '/i/{idWithSize}.jpg': cdnOperation({
    operationId: 'getSuffixedRendition',
    summary: 'Imgur-style thumbnail URL: `/i/k3J9xQ2m.jpg` is `/i/k3J9xQ2/m.jpg`',
    requestParams: {
      path: z.object({
        idWithSize: z
          .string()
          .regex(SUFFIXED_NAME_PATTERN)
          .meta({ description: 'The image id followed by a size letter', example: 'k3J9xQ2m' }),
      }),
    },
  }),
};
