export type { Services } from './services';
export { storageKeys } from './keys';
export { newImageId, isWellFormedImageId, strongEtag, IMAGE_ID_PATTERN } from './tokens';
export { deriveAssetStatus, reportedStages } from './status';
export { presentImage, originalUrl, type AssetView, type ImageResource, type RenditionResource } from './resource';
export { imageResourceSchema, uploadedImageSchema, type UploadedImage } from './image-resource';
export { asDependencyError } from './errors';
export { loadImage, loadAssetView, getImageResource, type ImageView, type OwnerAccess } from './images';
export { uploadImage, type ReceivedFile, type UploadRequest, type UploadResult } from './upload';
export { inspectArrival } from './arrival';
export { deleteImage } from './delete';
export { deleteImageByToken, getImgurImage, uploadImgurImage } from './imgur';
export { fetchRemoteImage, REMOTE_IMAGE_TIMEOUT_MS, type RemoteImageOptions } from './remote-image';
export { retryImage } from './retry';
export { runCleanup } from './cleanup';
export { imageCachedCopies, type CachedCopy } from './public-urls';
export { parseSuffixedName, SUFFIXED_NAME_PATTERN } from './suffixed-urls';
export { STAGES, ROOT_STAGE, QUEUE_NAMES, STAGE_NAMES, flowStages, type QueueName, type StageName } from './stages';
export type { StageContext, StageDefinition } from './stages/definition';
export { runStage } from './stages/runner';
export { createStageTools, type StageTools } from './stages/tools';
export { reconcileAssets, type ReconcileReport } from './reconcile';
export { requestReprocess } from './reprocess';
export { parseReprocessFilter } from './reprocess-filter';
export { runReprocessJob } from './reprocess-job';
export { requeueStaleReprocess } from './reprocess-reconcile';
export {
  resolveNegotiatedRendition,
  resolveOriginal,
  resolveRendition,
  CACHE_IMMUTABLE,
  CACHE_SHORT,
  type ServedBody,
  type ServedImage,
} from './serve';
export { createServices, type ServicesHandle } from './wiring';
export {
  findSimilarImages,
  DEFAULT_SIMILAR_DISTANCE,
  MAX_SIMILAR_DISTANCE,
  SIMILAR_LIMIT,
  similarImagesSchema,
  type SimilarImage,
  type SimilarImages,
} from './similar';
export { deliveryResourceSchema, listImageDeliveries, type DeliveryResource } from './deliveries';
export { getImageMetadata, metadataResourceSchema, type MetadataResource } from './metadata';
export {
  openImageEventStream,
  type ImageEventStream,
  type ImageEventStreamOptions,
} from './live-events';
export { CdnPurgeError, createCdnPurger, HttpCdnPurger, noopCdnPurger, purgeRequestUrl, purgeSucceeded, type CdnPurger } from './cdn-purge';
export {
  MODERATION_REQUESTED,
  ModerationHookError,
  moderationEventId,
  moderationRequestBody,
  parseHookAnswer,
  type ModerationRequestData,
} from './moderation/hook';
export { BLOCKLIST_MAX_DISTANCE, failModeDecision } from './moderation/moderate';
export { decideModeration } from './moderation/review';
export {
  blockedHashResourceSchema,
  blockHash,
  listBlocklist,
  unblockHash,
  type BlockedHashResource,
  type BlockRequest,
} from './moderation/blocklist';
export { sweepStorage, scheduleSweeps, type SweepReport } from './sweep';
