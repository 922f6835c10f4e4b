import { z } from 'zod';
import type { PrivateMetadata } from '@renditions/imaging';
import { assertOwnerAccess, loadImage, type OwnerAccess } from './images';
import type { Services } from './services';

/** The private metadata as the API shows it; never part of the image resource, events or webhooks. */
export const metadataResourceSchema = z
  .object({
    id: z.string(),
    metadata: z
      .object({
        camera_make: z.string().nullable(),
        camera_model: z.string().nullable(),
        lens_make: z.string().nullable(),
        lens_model: z.string().nullable(),
        taken_at: z.string().nullable(),
        gps: z.object({ latitude: z.number(), longitude: z.number(), altitude: z.number().nullable() }).nullable(),
        orientation: z.int().nullable(),
        exposure: z
          .object({
            iso: z.number().nullable(),
            f_number: z.number().nullable(),
            exposure_time: z.number().nullable(),
            focal_length: z.number().nullable(),
          })
          .nullable(),
      })
      .nullable()
      .meta({ description: '`null` until the strip stage has read the original (and for good if that stage failed)' }),
  })
  .meta({ id: 'ImageMetadata' });

export type MetadataResource = z.infer<typeof metadataResourceSchema>;

/**
 * What the original's EXIF said (camera, lens, capture time, GPS position, exposure) before it was stripped
 * from every served byte. Private to the uploader (delete token) and admins: it can say where they live.
 * @throws {NotFoundError} unknown id
 * @throws {GoneError} deleted
 * @throws {ForbiddenError} without the delete token or admin rights
 */
export async function getImageMetadata(
  services: Pick<Services, 'db'>,
  id: string,
  access: OwnerAccess,
): Promise<MetadataResource> {
  const { image, asset } = await loadImage(services, id);
  assertOwnerAccess(image, access, "read this image's metadata");
  // Written only by the strip stage, from readPrivateMetadata.
  const stored = asset.metadata as PrivateMetadata | null;
  return { id: image.id, metadata: stored && present(stored) };
}

function present(metadata: PrivateMetadata): NonNullable<MetadataResource['metadata']> {
  const { exposure } = metadata;
  return {
    camera_make: metadata.cameraMake,
    camera_model: metadata.cameraModel,
    lens_make: metadata.lensMake,
    lens_model: metadata.lensModel,
    taken_at: metadata.takenAt,
    gps: metadata.gps,
    orientation: metadata.orientation,
    exposure: exposure && {
      iso: exposure.iso,
      f_number: exposure.fNumber,
      exposure_time: exposure.exposureTime,
      focal_length: exposure.focalLength,
    },
  };
}
