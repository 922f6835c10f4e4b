import { createDocument, type oas31 } from 'zod-openapi';
import { adminPaths } from './admin-paths';
import { cdnPaths } from './cdn-paths';
import { imagePaths, imageWebhooks } from './image-paths';
import { SECURITY_SCHEMES } from './parameters';
import { servicePaths } from './service-paths';

export type OpenApiDocument = oas31.OpenAPIObject;

/**
 * The OpenAPI 3.1 description of the HTTP API, rendered from the zod schemas the routes validate requests with and
 * the pipeline's resources are typed by. No `servers`: paths resolve against wherever the document was fetched from.
 */
export function createApiDocument(): OpenApiDocument {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'renditions',
      version: '1',
      description:
        'A queue-first image host: upload a photo, get its URL at once, and watch 18 fixed-size WebP/AVIF/JPEG renditions ' +
        'flip to ready. Every error is `{"error": {"code", "message"}}`; no request gets a 500.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'images', description: 'Upload, poll, delete, retry, search and follow images' },
      { name: 'admin', description: 'Moderation and the perceptual-hash blocklist (HTTP Basic admin credentials)' },
      { name: 'cdn', description: 'The origin a CDN sits in front of: originals and renditions by public id' },
      { name: 'service', description: 'Health, metrics and this document' },
    ],
    paths: { ...imagePaths, ...adminPaths, ...cdnPaths, ...servicePaths },
    webhooks: imageWebhooks,
    components: { securitySchemes: SECURITY_SCHEMES },
  });
}
