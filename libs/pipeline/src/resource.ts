import type { Asset, AssetStage, Image, Rendition } from '@renditions/db';
import { RENDITION_FORMATS, RENDITION_SIZES, phashToHex, type RenditionFormat, type RenditionSize } from '@renditions/imaging';
import type { ImageResource } from './image-resource';
import { deriveAssetStatus, reportedStages } from './status';

export type { ImageResource, RenditionResource } from './image-resource';

/** An asset with everything its resource shows: its stage rows and its renditions. */
export interface AssetView {
  asset: Asset;
  stages: AssetStage[];
  renditions: Rendition[];
}

const sizeOrder = (size: string) => RENDITION_SIZES.indexOf(size as never);
const formatOrder = (format: string) => RENDITION_FORMATS.indexOf(format as never);

export function originalUrl(baseUrl: string, image: Pick<Image, 'id'>, asset: Pick<Asset, 'ext'>): string {
  return `${baseUrl}/i/${image.id}.${asset.ext}`;
}

export function presentImage(baseUrl: string, image: Image, { asset, stages, renditions }: AssetView): ImageResource {
  const ordered = [...renditions].sort(
    (a, b) => sizeOrder(a.size) - sizeOrder(b.size) || formatOrder(a.format) - formatOrder(b.format),
  );
  return {
    id: image.id,
    status: deriveAssetStatus(asset, stages, renditions),
    url: originalUrl(baseUrl, image, asset),
    mime: asset.mime,
    width: asset.width,
    height: asset.height,
    bytes: asset.bytes,
    sha256: asset.sha256,
    phash: asset.phash === null ? null : phashToHex(BigInt.asUintN(64, asset.phash)),
    thumbhash: asset.thumbhash,
    title: image.title,
    created_at: image.createdAt.toISOString(),
    stages: reportedStages(stages),
    moderation: { verdict: asset.moderationVerdict, reason: asset.moderationReason },
    renditions: ordered.map((rendition) => ({
      // Text columns, written only from the rendition plan's sizes and formats.
      size: rendition.size as RenditionSize,
      format: rendition.format as RenditionFormat,
      width: rendition.width,
      height: rendition.height,
      status: rendition.status,
      url: `${baseUrl}/i/${image.id}/${rendition.size}.${rendition.format}`,
    })),
  };
}
