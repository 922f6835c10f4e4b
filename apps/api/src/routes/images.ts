import { Router } from 'express';
import { z } from 'zod';
import { InvalidRequestError, MissingFileError } from '@renditions/errors';
import type { Metrics } from '@renditions/observability';
import { deleteImage, getImageResource, retryImage, uploadImage, type Services } from '@renditions/pipeline';
import { discardReceivedFile, receivedFile, receiveUpload } from '../middleware/receive-upload';
import type { OwnerAccessReader } from '../middleware/admin-auth';
import { uploadGate, uploadGuards } from '../middleware/upload-gate';
import { translateMultipartErrors } from '../middleware/multipart-errors';
import { storableText } from '../middleware/text-fields';
import { runMiddleware } from '../middleware/run-middleware';
import { rejectMalformedImageId } from '../middleware/validate-id';

export const uploadFields = z.object({
  title: storableText('title', z.string().trim().max(255, 'title is at most 255 characters')).optional(),
  callback_url: storableText(
    'callback_url',
    z.url({ protocol: /^https?$/, error: 'callback_url must be an absolute http(s) URL' }).max(2048),
  ).optional(),
});

function parseUploadFields(body: unknown) {
  const parsed = uploadFields.safeParse(body ?? {});
  if (!parsed.success) {
    throw new InvalidRequestError(parsed.error.issues.map((issue) => issue.message).join('; '));
  }
  return parsed.data;
}

export function imageRoutes(services: Services, metrics: Metrics, ownerAccess: OwnerAccessReader): Router {
  const router = Router();
  router.param('id', rejectMalformedImageId);
  const receive = translateMultipartErrors(
    receiveUpload({
      maxUploadBytes: services.config.limits.maxUploadBytes,
      spoolDirectory: services.storage.spoolDirectory,
      receiving: uploadGate(services).receiving,
      admit: uploadGate(services).admit,
    }),
  );

  router.post('/api/v1/images', ...uploadGuards(services), async (req, res) => {
    const stopTimer = metrics.uploadDuration.startTimer();
    try {
      await runMiddleware(receive, req, res);
      const file = receivedFile(req);
      if (!file) throw new MissingFileError('Send the image as multipart/form-data in the "image" field');
      const fields = parseUploadFields(req.body);
      const result = await uploadImage(services, { file, title: fields.title, callbackUrl: fields.callback_url });
      metrics.uploads.inc({ outcome: result.deduplicated ? 'deduplicated' : 'created' });
      res
        .status(201)
        .location(`/api/v1/images/${result.resource.id}`)
        .json({ ...result.resource, delete_token: result.deleteToken });
      stopTimer();
    } catch (error) {
      metrics.uploads.inc({ outcome: (error as { code?: string }).code ?? 'error' });
      throw error;
    } finally {
      await discardReceivedFile(req);
    }
  });

  router.get('/api/v1/images/:id', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await getImageResource(services, req.params.id));
  });

  router.delete('/api/v1/images/:id', async (req, res) => {
    await deleteImage(services, req.params.id, ownerAccess(req));
    res.status(204).end();
  });

  router.post('/api/v1/images/:id/retry', async (req, res) => {
    res.status(202).json(await retryImage(services, req.params.id, ownerAccess(req)));
  });

  return router;
}
