import type { Request, RequestHandler, Response } from 'express';
import { FileTooLargeError } from '@renditions/errors';

/**
 * Room for what a multipart body carries besides the file: boundaries, part headers and the small text fields
 * (title, callback_url). An upload body larger than MAX_UPLOAD_BYTES plus this cannot hold an acceptable file.
 */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

export function maxUploadBodyBytes(maxUploadBytes: number): number {
  return maxUploadBytes + MULTIPART_OVERHEAD_BYTES;
}

/**
 * The answer ends the connection: Node writes `Connection: close`, then destroys the socket once the answer has
 * flushed, so the unread rest of a refused body is never read (keeping the connection would mean draining it).
 */
export function closeAfterAnswer(res: Response): void {
  res.set('Connection', 'close');
}

/** How much of a refused body is still read after the answer (see finishBodyAfterAnswer). */
export interface RefusedBodyDrain {
  /** The largest declared body read to its end: the largest any route accepts. */
  maxBytes: number;
  /** The longest it is read for (nginx's lingering_time is 30 s). */
  maxMs: number;
  /** The server is stopping: a body still being drained is cut off at once. */
  stopping: AbortSignal;
}

/**
 * For an answer given while the body still arrives (an upload refused before it was read: 429, 503, 400...).
 * Closing then, with bytes unread, makes the kernel reset the connection, and a client that has not yet read the
 * answer (a busy one) loses it to the reset. So, as nginx's lingering close does, a body of declared length up to
 * `maxBytes` is read to its end and dropped, and the connection stays open for the next request; one still arriving
 * `maxMs` after the answer is cut off. A chunked or larger body, or an answer already set to close the
 * connection (a body cut off past the limit, uploads refused for want of room), ends the connection with the answer.
 */
export function finishBodyAfterAnswer(req: Request, res: Response, drain: RefusedBodyDrain): void {
  const declared = Number(req.headers['content-length']);
  if (res.get('Connection') === 'close' || !(declared <= drain.maxBytes)) {
    closeAfterAnswer(res);
    return;
  }
  res.once('finish', () => {
    if (req.complete) return;
    const { socket } = req;
    const cutOffNow = () => socket.destroy();
    if (drain.stopping.aborted) {
      cutOffNow();
      return;
    }
    const cutOff = setTimeout(cutOffNow, drain.maxMs);
    drain.stopping.addEventListener('abort', cutOffNow, { once: true });
    // Every listener goes with the first to fire: a kept connection may see many refused bodies.
    const drained = () => {
      clearTimeout(cutOff);
      drain.stopping.removeEventListener('abort', cutOffNow);
      req.off('end', drained);
      socket.off('close', drained);
    };
    req.once('end', drained);
    socket.once('close', drained);
    // A route that began reading may have left the body paused, or a reader's 'readable' listener on it (which
    // resume() would not override); Node drops only a body nobody read. Removing that listener stops the flow on
    // the next tick, so the resume comes after it.
    if (req.listenerCount('readable') > 0) {
      req.removeAllListeners('readable');
      process.nextTick(() => req.resume());
    } else {
      req.resume();
    }
  });
}

/**
 * Refuses an upload whose declared `Content-Length` cannot fit, before a byte of the body is read: a client
 * announcing 2 GB gets its 413 at once, instead of the server reading (or waiting for) the body first.
 * A chunked body has no length up front; `receiveUpload` cuts that one off where it crosses the same limit.
 * `maxBodyBytes` is larger where the file may come encoded (Imgur's base64).
 */
export function refuseDeclaredOversize(
  maxUploadBytes: number,
  maxBodyBytes: number = maxUploadBodyBytes(maxUploadBytes),
): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.headers['content-length']);
    if (declared > maxBodyBytes) {
      closeAfterAnswer(res);
      next(new FileTooLargeError(`The upload declares ${declared} bytes; the limit is ${maxUploadBytes} bytes`));
      return;
    }
    next();
  };
}
