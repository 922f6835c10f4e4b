import { findImageByDeleteTokenHash } from '@renditions/db';
import { NotFoundError } from '@renditions/errors';
import { deleteImage } from './delete';
import { loadImage, type ImageView } from './images';
import { originalUrl } from './resource';
import type { Services } from './services';
import { hashDeleteToken } from './tokens';
import { uploadImage, type UploadRequest } from './upload';

/**
 * Imgur API v3's image model, as api.imgur.com answers for an anonymous upload: the fields clients read are ours,
 * the social ones (views, votes, gallery, account) carry what Imgur gives an image nobody has seen yet.
 */
export interface ImgurImage {
  id: string;
  title: string | null;
  description: string | null;
  /** Upload time, Unix seconds. */
  datetime: number;
  /** The MIME type. */
  type: string;
  animated: boolean;
  width: number;
  height: number;
  size: number;
  views: 0;
  bandwidth: 0;
  vote: null;
  favorite: false;
  nsfw: null;
  section: null;
  account_url: null;
  account_id: 0;
  is_ad: false;
  in_most_viral: false;
  has_sound: false;
  tags: [];
  ad_type: 0;
  ad_url: '';
  edited: '0';
  in_gallery: false;
  name: '';
  /** The delete token: only in the upload's answer. */
  deletehash?: string;
  /** The original's URL. */
  link: string;
}

function presentImgurImage(baseUrl: string, { image, asset }: ImageView, deletehash?: string): ImgurImage {
  return {
    id: image.id,
    title: image.title,
    description: image.description,
    datetime: Math.floor(image.createdAt.getTime() / 1000),
    type: asset.mime,
    animated: asset.pages > 1,
    width: asset.width,
    height: asset.height,
    size: asset.bytes,
    views: 0,
    bandwidth: 0,
    vote: null,
    favorite: false,
    nsfw: null,
    section: null,
    account_url: null,
    account_id: 0,
    is_ad: false,
    in_most_viral: false,
    has_sound: false,
    tags: [],
    ad_type: 0,
    ad_url: '',
    edited: '0',
    in_gallery: false,
    name: '',
    ...(deletehash === undefined ? {} : { deletehash }),
    link: originalUrl(baseUrl, image, asset),
  };
}

/**
 * @throws {NotFoundError} unknown id
 * @throws {GoneError} deleted (Imgur's rendering answers it as 404)
 */
export async function getImgurImage(services: Pick<Services, 'db' | 'config'>, id: string): Promise<ImgurImage> {
  return presentImgurImage(services.config.publicBaseUrl, await loadImage(services, id));
}

/** Uploads as {@link uploadImage} does, answering with Imgur's model and the delete token as its `deletehash`. */
export async function uploadImgurImage(
  services: Services,
  request: UploadRequest,
): Promise<{ image: ImgurImage; deduplicated: boolean }> {
  const { view, deleteToken, deduplicated } = await uploadImage(services, request);
  return { image: presentImgurImage(services.config.publicBaseUrl, view, deleteToken), deduplicated };
}

/**
 * Imgur deletes by the delete token alone (`DELETE /3/image/:deletehash`): the token names the image as well as
 * proving the right to delete it. Only the token's hash is stored, so the image is found by that hash.
 * @throws {NotFoundError} no image was issued this token
 * @throws {GoneError} its image is deleted already
 */
export async function deleteImageByToken(services: Services, deleteToken: string): Promise<void> {
  const image = await findImageByDeleteTokenHash(services.db, hashDeleteToken(deleteToken));
  if (!image) throw new NotFoundError('No image has this deletehash');
  await deleteImage(services, image.id, { deleteToken });
}
