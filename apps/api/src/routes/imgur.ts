import { unlink } from 'node:fs/promises';
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { InvalidRequestError, MissingFileError } from '@renditions/errors';
import type { Metrics } from '@renditions/observability';
import {
  deleteImageByToken,
  fetchRemoteImage,
  getImgurImage,
  REMOTE_IMAGE_TIMEOUT_MS,
  uploadImgurImage,
  type ReceivedFile,
  type Services,
} from '@renditions/pipeline';
import { imgurSuccess } from '../imgur/envelope';
import type { ImgurImageSource } from '../imgur/image-text';
import { imgurBodyReader, imgurMaxBodyBytes } from '../imgur/upload-body';
import { parseBody } from '../middleware/parse-body';
import { spoolToFile } from '../middleware/receive-upload';
import { storableText } from '../middleware/text-fields';
import { uploadGate, uploadGuards } from '../middleware/upload-gate';
import { runMiddleware } from '../middleware/run-middleware';
import { rejectMalformedImageId } from '../middleware/validate-id';
import { deletePageRoutes } from './delete-page';

/** Imgur's upload fields; others it knows (album, name, disable_audio) or a client adds are ignored, as unused. */
const imgurUploadFields = z.object({
  type: z
    .enum(['file', 'stream', 'base64', 'url'], { error: 'Expected type to be one of file, stream, base64, url' })
    .optional(),
  title: storableText(
    'title',
    z.string({ error: 'Expected title as a string' }).trim().max(255, 'title is at most 255 characters'),
  ).optional(),
  description: storableText(
    'description',
    z.string({ error: 'Expected description as a string' }).trim().max(10_000, 'description is at most 10000 characters'),
  ).optional(),
});
type ImgurUploadType = z.infer<typeof imgurUploadFields>['type'];

/** Imgur's `type` says how the image was sent; `stream` is a file, and without a type the image says for itself. */
function assertSentAsDeclared(source: ImgurImageSource, type: ImgurUploadType): void {
  const sentAs = source.kind === 'url' ? 'url' : source.sentAs;
  const declared = type === 'stream' ? 'file' : type;
  if (declared && declared !== sentAs) {
    const as = { file: 'a file', base64: 'base64 text', url: 'a URL' }[sentAs];
    throw new InvalidRequestError(`The upload says type=${type} but its image was sent as ${as}`);
  }
}

/** Browser clients call Imgur from any origin with a Client-ID header (no cookies), so any origin may call this API. */
const corsForImgurApi: RequestHandler = (req, res, next) => {
  res.set('Access-Control-Allow-Origin', '*');
  if (req.method !== 'OPTIONS') return next();
  res
    .set({
      'Access-Control-Allow-Methods': 'GET, POST, DELETE',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type',
      'Access-Control-Max-Age': '600',
    })
    .status(204)
    .end();
};

/**
 * Imgur API v3 (`/3/`), so that Imgur clients work by changing only their base URL: upload, read, delete. Uploads
 * pass the native upload's guards (rate limit, size, per-client and process-wide concurrency) and path; every answer,
 * an error too, comes in Imgur's envelope (see middleware/errors.ts).
 */
export function imgurRoutes(services: Services, metrics: Metrics): Router {
  const router = Router();
  const { maxUploadBytes } = services.config.limits;
  // The storage's spool directory, as the native upload's: storing the original is then a link, not a copy.
  const { spoolDirectory } = services.storage;
  const { admit, receiving } = uploadGate(services);
  const readBody = imgurBodyReader({ maxUploadBytes, spoolDirectory, receiving });
  const fetchOptions = {
    maxBytes: maxUploadBytes,
    timeoutMs: REMOTE_IMAGE_TIMEOUT_MS,
    allowPrivate: services.config.webhooks.allowPrivate,
  };
  // Fetched only once the whole request has been read and its fields checked; the bytes arriving take a receiving
  // slot, as a body's do.
  const fetchToSpool = async (url: string) => {
    const leave = receiving.enter();
    try {
      return await spoolToFile(fetchRemoteImage(url, fetchOptions), { directory: spoolDirectory, maxBytes: maxUploadBytes });
    } finally {
      leave();
    }
  };

  router.use('/3', corsForImgurApi);
  router.param('id', rejectMalformedImageId);

  router.post(['/3/image', '/3/upload'], ...uploadGuards(services, imgurMaxBodyBytes(maxUploadBytes)), async (req, res) => {
    const stopTimer = metrics.uploadDuration.startTimer();
    let spooled: ReceivedFile | undefined;
    try {
      const body = await readBody(req, res);
      if (body.image?.kind === 'file') spooled = body.image.file;
      const fields = parseBody(imgurUploadFields, body.fields);
      const { image } = body;
      if (!image) throw new MissingFileError('Send the image in the "image" field: a file, base64 or an http(s) URL');
      assertSentAsDeclared(image, fields.type);
      const file = image.kind === 'url' ? (spooled = await fetchToSpool(image.url)) : image.file;
      await runMiddleware(admit, req, res);
      const result = await uploadImgurImage(services, { file, title: fields.title, description: fields.description });
      metrics.uploads.inc({ outcome: result.deduplicated ? 'deduplicated' : 'created' });
      res.json(imgurSuccess(result.image));
      stopTimer();
    } catch (error) {
      metrics.uploads.inc({ outcome: (error as { code?: string }).code ?? 'error' });
      throw error;
    } finally {
      if (spooled) await unlink(spooled.path).catch(() => undefined);
    }
  });

  router.get('/3/image/:id', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(imgurSuccess(await getImgurImage(services, req.params.id)));
  });

  router.delete('/3/image/:deletehash', async (req, res) => {
    await deleteImageByToken(services, req.params.deletehash);
    res.json(imgurSuccess(true));
  });

  router.use(deletePageRoutes(services));
  return router;
}
