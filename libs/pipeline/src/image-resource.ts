import { z } from 'zod';
import { assetStatus, moderationVerdict, stepStatus } from '@renditions/db';
import { RENDITION_FORMATS, RENDITION_SIZES } from '@renditions/imaging';

/*
 * The contract's resources as zod schemas: the TypeScript types are inferred from them, and the OpenAPI document
 * (apps/api/src/openapi) renders them, so what the code returns and what the document promises cannot drift apart.
 */

export const stepStatusSchema = z.enum(stepStatus.enumValues).meta({ id: 'StepStatus' });

export const renditionResourceSchema = z
  .object({
    size: z.enum(RENDITION_SIZES),
    format: z.enum(RENDITION_FORMATS),
    width: z.int().positive().meta({ description: 'Known at upload (computed from the source): the served pixels exactly' }),
    height: z.int().positive(),
    status: stepStatusSchema,
    url: z.url(),
  })
  .meta({ id: 'Rendition' });

/** The contract's image resource: what polling, events and webhooks carry. Never includes the delete token. */
export const imageResourceSchema = z
  .object({
    id: z.string().meta({ example: 'k3J9xQ2' }),
    status: z.enum(assetStatus.enumValues),
    url: z.url().meta({ description: 'The metadata-free original' }),
    mime: z.string().meta({ example: 'image/jpeg' }),
    width: z.int().positive().meta({ description: 'Displayed (auto-oriented) width' }),
    height: z.int().positive(),
    bytes: z.int().nonnegative().meta({ description: 'Size of the uploaded file' }),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    phash: z.string().regex(/^[0-9a-f]{16}$/).nullable().meta({ description: '64-bit perceptual hash, once computed' }),
    thumbhash: z.base64().nullable().meta({ description: 'Base64 ThumbHash placeholder once the hash stage ran' }),
    title: z.string().nullable(),
    created_at: z.iso.datetime(),
    stages: z
      .record(z.string(), stepStatusSchema)
      .meta({ description: 'Each stage that does not report through renditions (strip, phash, moderation)' }),
    moderation: z.object({ verdict: z.enum(moderationVerdict.enumValues), reason: z.string().nullable() }),
    renditions: z.array(renditionResourceSchema),
  })
  .meta({ id: 'Image' });

/** The upload's `201`: the resource plus the delete token, shown only here (never in GET, events or webhooks). */
export const uploadedImageSchema = imageResourceSchema
  .extend({ delete_token: z.string().meta({ description: 'Send as X-Delete-Token to delete or retry; shown only here' }) })
  .meta({ id: 'UploadedImage' });

export type RenditionResource = z.infer<typeof renditionResourceSchema>;
export type ImageResource = z.infer<typeof imageResourceSchema>;
export type UploadedImage = z.infer<typeof uploadedImageSchema>;
