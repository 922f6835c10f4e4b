export type { Services } from './services';
export { storageKeys } from './keys';
export { newImageId, isWellFormedImageId, strongEtag } from './tokens';
export { deriveAssetStatus } from './status';
export { presentImage, originalUrl, type ImageResource, type RenditionResource } from './resource';
export { asDependencyError } from './errors';
export { loadImage, getImageResource, type ImageView, type OwnerAccess } from './images';
export { uploadImage, type ReceivedFile, type UploadRequest, type UploadResult } from './upload';
export { deleteImage } from './delete';
export { reconcileAssets, type ReconcileReport } from './reconcile';
export {
  resolveOriginal,
  resolveRendition,
  CACHE_IMMUTABLE,
  CACHE_SHORT,
  type ServedBody,
  type ServedImage,
} from './serve';
export { createServices, type ServicesHandle } from './wiring';
export { announceAsset, announceImage } from './notify';
export {
  findSimilarImages,
  DEFAULT_SIMILAR_DISTANCE,
  MAX_SIMILAR_DISTANCE,
  SIMILAR_LIMIT,
  type SimilarImage,
  type SimilarImages,
} from './similar';
export { listImageDeliveries, type DeliveryResource } from './deliveries';
export { getImageMetadata, type MetadataResource } from './metadata';
export {
  openImageEventStream,
  type ImageEventStream,
  type ImageEventStreamOptions,
} from './live-events';
export { createCdnPurger, HttpCdnPurger, noopCdnPurger, purgeRequestUrl, purgeSucceeded, type CdnPurger } from './cdn-purge';
export {
  MODERATION_REQUESTED,
  ModerationHookError,
  moderationEventId,
  moderationRequestBody,
  parseHookAnswer,
  type ModerationRequestData,
} from './moderation/hook';
export { BLOCKLIST_MAX_DISTANCE, failModeDecision, moderateAsset, type ModerationAttempt } from './moderation/moderate';
export { assetObjectKeys, imagePublicUrls, takeDownAsset } from './moderation/takedown';
export { decideModeration } from './moderation/review';
export {
  blockHash,
  listBlocklist,
  unblockHash,
  type BlockedHashResource,
  type BlockRequest,
} from './moderation/blocklist';
