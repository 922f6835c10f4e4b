import { isUtf8 } from 'node:buffer';
import { unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Busboy, type BusboyFileStream, type BusboyHeaders } from '@fastify/busboy';
import express, { type Request, type Response } from 'express';
import {
  FileTooLargeError,
  InvalidRequestError,
  MissingFileError,
  UnavailableError,
  UnsupportedTypeError,
} from '@renditions/errors';
import { hasBody } from '../middleware/connection-guards';
import { closeAfterAnswer, MULTIPART_OVERHEAD_BYTES } from '../middleware/content-length';
import { isMalformedBody } from '../middleware/multipart-errors';
import { spoolToFile } from '../middleware/receive-upload';
import { runMiddleware } from '../middleware/run-middleware';
import { receivingSlotFor, RETRY_AFTER_SECONDS, type ReceivingSlots } from '../middleware/upload-gate';
import { base64Length } from './base64';
import { fieldValue, formSegments, type FormSegment } from './form-urlencoded';
import { readImageText, type ImgurImageSource, type Spool } from './image-text';

/** An Imgur upload as read from its body: the image (spooled, or a URL still to fetch) and the other fields. */
export interface ImgurUploadBody {
  image?: ImgurImageSource;
  /** Every other field as sent, for the route's schema to judge (JSON values keep their JSON type). */
  fields: Record<string, unknown>;
}

export type ImgurBodyReader = (req: Request, res: Response) => Promise<ImgurUploadBody>;

/** title, description, type, album, name, disable_audio... and room for a client's extras. */
const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;
/**
 * JSON is parsed whole (a 20 MB image is about 80 MB of buffers and strings on the way), so only this many JSON
 * uploads are read at once per process; the rest get 503. Multipart and form bodies are streamed instead.
 */
const MAX_JSON_UPLOADS_READING = 2;

/**
 * Reads an Imgur upload body in any of the forms Imgur accepts: multipart/form-data (the image as a file part or
 * as text), application/x-www-form-urlencoded, or JSON; text is an http(s) URL, a data: URI or base64. Bytes go to
 * a spool file as they arrive (base64 decoded on the way) and count against MAX_UPLOAD_BYTES; the body as sent may
 * be as large as that encoded in base64. On failure nothing is left in the spool.
 * @throws {FileTooLargeError} the image or the body is over its limit (reading stops there)
 * @throws {InvalidRequestError | UnsupportedTypeError | MissingFileError} a body that cannot be an Imgur upload
 * @throws {UnavailableError} too many bodies are being read at once
 */
export function imgurBodyReader(options: { maxUploadBytes: number; spoolDirectory: string; receiving: ReceivingSlots }): ImgurBodyReader {
  const maxBodyBytes = imgurMaxBodyBytes(options.maxUploadBytes);
  const spool: Spool = (bytes) => spoolToFile(bytes, { directory: options.spoolDirectory, maxBytes: options.maxUploadBytes });
  const parseJson = express.json({ limit: maxBodyBytes });
  let readingJson = 0;

  return async (req, res) => {
    if (!hasBody(req)) throw new MissingFileError('Send the image in the "image" field of the request body');
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding !== 'identity' && !req.is('json')) {
      throw new UnsupportedTypeError(`Content-Encoding ${encoding} is not accepted for form bodies; send them uncompressed`);
    }
    const json = Boolean(req.is('json'));
    if (json && readingJson >= MAX_JSON_UPLOADS_READING) {
      closeAfterAnswer(res);
      throw new UnavailableError('Too many JSON uploads are being read at once; try again shortly', RETRY_AFTER_SECONDS);
    }
    const release = receivingSlotFor(options.receiving, res);
    if (json) readingJson += 1;
    try {
      if (req.is('multipart/form-data')) return await readMultipart(req, maxBodyBytes, spool);
      if (req.is('urlencoded')) return await readUrlencoded(req, maxBodyBytes, spool);
      if (json) return await readJson(req, res, parseJson, spool);
      const received = req.get('content-type') ?? 'no Content-Type';
      throw new UnsupportedTypeError(
        `Expected the upload as multipart/form-data, application/x-www-form-urlencoded or application/json but received ${received}`,
      );
    } finally {
      release();
      if (json) readingJson -= 1;
    }
  };
}

/** The largest Imgur upload body: the largest image as base64, with room for the other fields and the framing. */
export function imgurMaxBodyBytes(maxUploadBytes: number): number {
  return base64Length(maxUploadBytes) + MULTIPART_OVERHEAD_BYTES;
}

/**
 * The request body as it arrives, cut off past `maxBytes`. The request is left unread rather than destroyed when
 * reading stops, so its answer can still be sent (then the rest is drained or the connection ends: see
 * finishBodyAfterAnswer).
 */
async function* capped(req: Request, maxBytes: number): AsyncGenerator<Buffer> {
  let received = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    received += (chunk as Buffer).length;
    if (received > maxBytes) throw new FileTooLargeError(`The upload body is larger than the limit of ${maxBytes} bytes`);
    yield chunk as Buffer;
  }
}

async function readMultipart(req: Request, maxBodyBytes: number, spool: Spool): Promise<ImgurUploadBody> {
  const fields: Record<string, unknown> = {};
  const parts: BusboyFileStream[] = [];
  let image: Promise<ImgurImageSource> | undefined;
  let problem: unknown;
  const stop = new AbortController();
  const fail = (error: unknown) => {
    problem ??= error;
    stop.abort();
    for (const part of parts) part.destroy();
  };

  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({
      headers: req.headers as BusboyHeaders,
      // Every `image` part is read as a stream, text too: busboy would otherwise buffer a 27 MB base64 value.
      isPartAFile: (name) => name === 'image',
      limits: { fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + 1 },
    });
  } catch (error) {
    throw malformedMultipart(error);
  }
  parser.on('file', (_name: string, part: BusboyFileStream, filename: string | undefined, _enc: string, mimeType: string) => {
    if (image) {
      part.resume();
      fail(new InvalidRequestError('Expected one image, in the "image" field, but received more'));
      return;
    }
    parts.push(part);
    // A part without a filename and declared as text (or not at all) is a field's value: a URL or base64.
    const isText = filename === undefined && /^text\/plain\b/i.test(mimeType || 'text/plain');
    image = isText
      ? readImageText(part, spool)
      : spool(part).then((file): ImgurImageSource => ({ kind: 'file', file, sentAs: 'file' }));
    image.catch((error: unknown) => fail(malformedMultipart(error)));
  });
  parser.on('field', (name: string, value: string, nameTruncated: boolean, valueTruncated: boolean) => {
    if (nameTruncated || valueTruncated) fail(new InvalidRequestError(`Field "${name}" is longer than ${MAX_FIELD_BYTES} bytes`));
    else if (!(name in fields)) fields[name] = value;
  });
  for (const limit of ['partsLimit', 'fieldsLimit'] as const) {
    parser.on(limit, () => fail(new InvalidRequestError(`Expected at most ${MAX_FIELDS} form fields`)));
  }

  await pipeline(capped(req, maxBodyBytes), parser, { signal: stop.signal }).catch((error: unknown) =>
    fail(malformedMultipart(error)),
  );
  const source = await image?.catch((error: unknown) => {
    fail(error);
    return undefined;
  });
  if (problem) {
    if (source?.kind === 'file') await unlink(source.file.path).catch(() => undefined);
    throw problem;
  }
  return { image: source, fields };
}

/** A malformed body is the client's fault (400); a spool fault (ENOSPC...) stays what it is. */
function malformedMultipart(error: unknown): unknown {
  return isMalformedBody(error) ? new InvalidRequestError(`The multipart body is malformed (${error.message})`, { cause: error }) : error;
}

async function readUrlencoded(req: Request, maxBodyBytes: number, spool: Spool): Promise<ImgurUploadBody> {
  const fields: Record<string, unknown> = {};
  let image: ImgurImageSource | undefined;
  let segments: AsyncIterator<FormSegment> | undefined;
  try {
    segments = formSegments(capped(req, maxBodyBytes))[Symbol.asyncIterator]();
    let count = 0;
    for (let next = await segments.next(); !next.done; next = await segments.next()) {
      if (next.value.kind !== 'name') continue;
      if (++count > MAX_FIELDS) throw new InvalidRequestError(`Expected at most ${MAX_FIELDS} form fields`);
      const { name } = next.value;
      if (name === 'image') {
        if (image) throw new InvalidRequestError('Expected one image, in the "image" field, but received more');
        image = await readImageText(fieldValue(segments), spool);
      } else {
        const value = await readText(fieldValue(segments), name);
        if (!(name in fields)) fields[name] = value;
      }
    }
    return { image, fields };
  } catch (error) {
    // Stops reading the body: the iterator would otherwise hold it paused, and the error answer could not drain it.
    await segments?.return?.();
    if (image?.kind === 'file') await unlink(image.file.path).catch(() => undefined);
    throw error;
  }
}

async function readText(chunks: AsyncIterable<Buffer>, name: string): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    length += chunk.length;
    if (length > MAX_FIELD_BYTES) throw new InvalidRequestError(`Field "${name}" is longer than ${MAX_FIELD_BYTES} bytes`);
    parts.push(chunk);
  }
  const bytes = Buffer.concat(parts);
  if (!isUtf8(bytes)) throw new InvalidRequestError(`Expected field "${name}" in UTF-8 but received bytes that are not`);
  return bytes.toString('utf8');
}

async function readJson(
  req: Request,
  res: Response,
  parseJson: ReturnType<typeof express.json>,
  spool: Spool,
): Promise<ImgurUploadBody> {
  await runMiddleware(parseJson, req, res);
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError('Expected a JSON object with the image in its "image" member');
  }
  const { image, ...fields } = body as Record<string, unknown>;
  if (image === undefined) return { fields };
  if (typeof image !== 'string') {
    throw new InvalidRequestError('Expected "image" as a string: base64, a data: URI or an http(s) URL');
  }
  return { image: await readImageText(once(Buffer.from(image, 'utf8')), spool), fields };
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
