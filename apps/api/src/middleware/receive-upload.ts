import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler } from 'express';
import multer, { type StorageEngine } from 'multer';
import { FileTooLargeError } from '@renditions/errors';
import { inspectArrival, type ReceivedFile } from '@renditions/pipeline';
import { closeAfterAnswer, maxUploadBodyBytes } from './content-length';
import { receivingSlotFor, type ReceivingSlots } from './upload-gate';

type SpooledFile = Express.Multer.File & ReceivedFile;

/**
 * Writes bytes to a new temporary file while hashing and counting them, so an upload never sits in memory and its
 * SHA-256 is known the moment the last byte arrives. The same pass builds a JPEG's skeleton, so that validating it
 * reads no more of the file (see inspectArrival). Every upload route spools through this, whatever the bytes
 * came as (a multipart file, decoded base64, a fetched URL). On any failure the partial file is removed.
 * @throws {FileTooLargeError} more than `maxBytes` arrived (reading stops there)
 */
export async function spoolToFile(
  source: AsyncIterable<Uint8Array>,
  options: { directory: string; maxBytes?: number },
): Promise<ReceivedFile> {
  const { directory } = options;
  const maxBytes = options.maxBytes ?? Infinity;
  const spoolPath = path.join(directory, `upload-${randomUUID()}`);
  const hash = createHash('sha256');
  const inspection = inspectArrival();
  let bytes = 0;
  await mkdir(directory, { recursive: true });
  // 'wx': a name that exists already is never written over.
  const out = createWriteStream(spoolPath, { flags: 'wx' });
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Uint8Array>) {
        for await (const chunk of chunks) {
          bytes += chunk.length;
          if (bytes > maxBytes) throw new FileTooLargeError(`The image is larger than the limit of ${maxBytes} bytes`);
          hash.update(chunk);
          inspection.push(chunk);
          yield chunk;
        }
      },
      out,
    );
  } catch (error) {
    // The file is opened on a libuv thread: a source failing at once can end the pipeline before the open is done,
    // and a removal racing it would leave the file it creates. Destroyed, the stream closes once it has opened.
    if (!out.closed) await once(out, 'close').catch(() => undefined);
    await unlink(spoolPath).catch(() => undefined);
    throw error;
  }
  flushInBackground(spoolPath);
  return { path: spoolPath, bytes, sha256: hash.digest('hex'), ...inspection.findings() };
}

/**
 * Starts writing a complete spool file back to disk while the upload is validated: storing it durably
 * (ObjectStorage.putFile syncs it) then has little left to wait for. Only a head start: a failure here shows
 * again in that sync, which reports it. (A handle of its own: a write stream on a FileHandle that it does not
 * close keeps a reference that makes the handle's close wait forever.)
 */
function flushInBackground(spoolPath: string): void {
  void open(spoolPath, 'r')
    .then((file) => file.datasync().finally(() => file.close()))
    .catch(() => undefined);
}

/** A multer storage engine that spools the file with {@link spoolToFile}. */
class HashingSpoolStorage implements StorageEngine {
  /** Each request's spool while it is written: settled once its file is complete, or removed. */
  private readonly spooling = new WeakMap<Request, Promise<unknown>>();

  constructor(private readonly directory: string) {}

  /** Resolves once the request's spool, if it has one, has completed or removed its file. */
  settledFor(req: Request): Promise<unknown> {
    return this.spooling.get(req) ?? Promise.resolve();
  }

  _handleFile(req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<SpooledFile>) => void) {
    const spooled = spoolToFile(file.stream, { directory: this.directory });
    this.spooling.set(req, spooled.catch(() => undefined));
    spooled.then(
      (spooled) => callback(null, { ...spooled, size: spooled.bytes }),
      (error: unknown) => callback(error),
    );
  }

  _removeFile(_req: Request, file: Express.Multer.File, callback: (error: Error | null) => void) {
    unlink(file.path).then(
      () => callback(null),
      () => callback(null),
    );
  }
}

export interface ReceiveUploadOptions {
  maxUploadBytes: number;
  /**
   * Where the file is spooled: the storage's spool directory (ObjectStorage.spoolDirectory), so that storing it is a
   * link rather than a copy.
   */
  spoolDirectory: string;
  /** The process's count of bodies being received (UploadGate.receiving), shared by every upload route. */
  receiving: ReceivingSlots;
  /**
   * Runs once the whole body is on disk, before `next`: where an upload waits for its turn to be validated
   * (MAX_CONCURRENT_UPLOADS). Waiting only after the body is in means a slow client never holds a turn.
   */
  admit?: RequestHandler;
}

/**
 * Spools the `image` field to disk (see HashingSpoolStorage) and counts the body as it arrives: once it passes
 * MAX_UPLOAD_BYTES plus the multipart overhead, reading stops there and the answer is 413 with the connection
 * closed. (multer alone would read a refused body to its end before answering, a 2 GB body included.)
 */
export function receiveUpload(options: ReceiveUploadOptions): RequestHandler {
  const storage = new HashingSpoolStorage(options.spoolDirectory);
  const parse = multer({
    storage,
    limits: { fileSize: options.maxUploadBytes, files: 1, fields: 10, fieldSize: 64 * 1024, parts: 12 },
  }).single('image');
  const maxBodyBytes = maxUploadBodyBytes(options.maxUploadBytes);

  return (req, res, next) => {
    let release: () => void;
    try {
      release = receivingSlotFor(options.receiving, res);
    } catch (error) {
      next(error);
      return;
    }
    // Released once the body is in, or when the connection ends first (a client gone mid-body).
    res.once('close', release);
    let received = 0;
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      release();
      req.off('data', count);
      if (error || !options.admit) next(error);
      else options.admit(req, res, next);
    };
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= maxBodyBytes) return;
      // Stop reading here, answer 413 and close the connection. Once answered, the request is destroyed too: Node no
      // longer tracks an answered request, so multer would otherwise wait forever for the rest of the body, its spool
      // file held open; destroyed, multer removes it.
      req.unpipe();
      req.pause();
      closeAfterAnswer(res);
      res.once('close', () => req.destroy());
      settle(new FileTooLargeError(`The upload is larger than the limit of ${options.maxUploadBytes} bytes`));
    };
    // Listening to 'data' beside multer's pipe: both see every chunk, and pipe's backpressure still applies. Only on
    // a multipart body, the one multer reads: any other is left unread for the route to refuse.
    if (req.is('multipart')) req.on('data', count);
    // multer passes on the failure of a request (a client gone, a body cut short) without waiting for the file it was
    // spooling: the error goes on once that file is removed, so nothing is left by the time the client hears of it.
    parse(req, res, (error?: unknown) => {
      if (error) void storage.settledFor(req).then(() => settle(error));
      else settle();
    });
  };
}

export function receivedFile(req: Request): ReceivedFile | undefined {
  const file = req.file as SpooledFile | undefined;
  return file ? { path: file.path, bytes: file.bytes, sha256: file.sha256, jpegSkeleton: file.jpegSkeleton } : undefined;
}

export async function discardReceivedFile(req: Request): Promise<void> {
  if (req.file?.path) await unlink(req.file.path).catch(() => undefined);
}
