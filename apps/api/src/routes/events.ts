import { setMaxListeners } from 'node:events';
import { Router } from 'express';
import { openImageEventStream, type Services } from '@renditions/pipeline';
import { openEventStream } from '../middleware/event-stream';
import { rejectMalformedImageId } from '../middleware/validate-id';

/**
 * `GET /api/v1/images/:id/events`: the image's live events as Server-Sent Events, ending once it settles.
 * `shutdown` ends every open stream, so a graceful stop does not wait for images to settle.
 */
export function eventRoutes(services: Services, shutdown: AbortSignal): Router {
  const router = Router();
  router.param('id', rejectMalformedImageId);
  // One listener per open stream, removed when it ends: hundreds at once are normal, not a leak.
  setMaxListeners(0, shutdown);

  router.get('/api/v1/images/:id/events', async (req, res) => {
    // Unknown or deleted ids throw here, before any header is sent, and get the JSON error.
    const stream = await openImageEventStream(services, req.params.id);
    if (req.get('Last-Event-ID') !== undefined && stream.settledAtOpen) {
      // An EventSource reconnecting after the stream ended: 204 is what tells it to stop reconnecting.
      stream.close();
      res.status(204).end();
      return;
    }
    const writer = openEventStream(res);
    const socket = res.socket;
    const stopStreaming = () => stream.close();
    res.on('close', stopStreaming);
    shutdown.addEventListener('abort', stopStreaming, { once: true });
    if (shutdown.aborted) stopStreaming();
    try {
      for await (const event of stream) writer.send(event.type, JSON.stringify(event));
    } finally {
      shutdown.removeEventListener('abort', stopStreaming);
      writer.end();
      // The headers promised keep-alive before the stop began; an idle connection would hold the stop until the
      // client drops it, so it is closed once the end of the stream is flushed.
      if (shutdown.aborted) socket?.destroySoon();
    }
  });

  return router;
}
