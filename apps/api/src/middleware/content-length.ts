import type { RequestHandler, Response } from 'express';
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
