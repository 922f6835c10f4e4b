import type { PrivateMetadata } from '@renditions/imaging';
import { assertOwnerAccess, loadImage, type OwnerAccess } from './images';
import type { Services } from './services';

/** The private metadata as the API shows it; never part of the image resource, events or webhooks. */
export interface MetadataResource {
  id: string;
  /** `null` until the strip stage has read the original (and for good if that stage failed). */
  metadata: {
    camera_make: string | null;
    camera_model: string | null;
    lens_make: string | null;
    lens_model: string | null;
    taken_at: string | null;
    gps: { latitude: number; longitude: number; altitude: number | null } | null;
    orientation: number | null;
    exposure: { iso: number | null; f_number: number | null; exposure_time: number | null; focal_length: number | null } | null;
  } | null;
}

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
