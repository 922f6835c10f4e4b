export type { Services } from './services';
export { storageKeys } from './keys';
export { newImageId, isWellFormedImageId, strongEtag } from './tokens';
export { deriveAssetStatus } from './status';
export { presentImage, originalUrl, type ImageResource, type RenditionResource } from './resource';
export { asDependencyError } from './errors';
export { loadImage, getImageResource, type ImageView } from './images';
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
