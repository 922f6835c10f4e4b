import { InvalidRequestError } from '@renditions/errors';
import type { ReceivedFile } from '@renditions/pipeline';
import { decodeBase64 } from './base64';

/** What an Imgur upload's `image` turned out to be once its body was read. */
export type ImgurImageSource =
  | { kind: 'file'; file: ReceivedFile; sentAs: 'file' | 'base64' }
  | { kind: 'url'; url: string };

export type Spool = (bytes: AsyncIterable<Buffer>) => Promise<ReceivedFile>;

const MAX_URL_LENGTH = 2048;
/** `data:image/png;base64,` and then some: media type parameters are short. */
const MAX_DATA_URI_HEADER = 256;
/** Enough to tell `https://` or `data:` from base64 (whose alphabet has no colon). */
const SNIFF_BYTES = 8;

/**
 * Reads the text of an `image` field as Imgur does, whatever `type` says (clients send `type` after the image, or
 * not at all): an http(s) URL, a `data:...;base64,` URI, or bare base64. Base64 is decoded into the spool as it
 * arrives; a URL is only returned, to be fetched once the whole request has been read and checked.
 * @throws {InvalidRequestError} a URL over 2048 characters, a data: URI that is not base64, text that is not base64
 */
export async function readImageText(text: AsyncIterable<Buffer>, spool: Spool): Promise<ImgurImageSource> {
  const chunks = text[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  // Bounded even for a value of nothing but whitespace.
  while (head.toString('latin1').trimStart().length < SNIFF_BYTES && head.length < MAX_DATA_URI_HEADER) {
    const next = await chunks.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  const start = head.toString('latin1').trimStart();
  if (/^https?:\/\//i.test(start)) return { kind: 'url', url: await readUrl(head, chunks) };
  if (/^data:/i.test(start)) return spoolDataUri(head, chunks, spool);
  return { kind: 'file', file: await spool(decodeBase64(prepend(head, chunks))), sentAs: 'base64' };
}

async function readUrl(head: Buffer, rest: AsyncIterator<Buffer>): Promise<string> {
  let url = head.toString('utf8');
  for (let next = await rest.next(); !next.done; next = await rest.next()) {
    url += next.value.toString('utf8');
    if (url.length > MAX_URL_LENGTH) break;
  }
  url = url.trim();
  if (url.length > MAX_URL_LENGTH) throw new InvalidRequestError(`Expected an image URL of at most ${MAX_URL_LENGTH} characters`);
  return url;
}

async function spoolDataUri(head: Buffer, rest: AsyncIterator<Buffer>, spool: Spool): Promise<ImgurImageSource> {
  let buffered = head;
  let comma = buffered.indexOf(',');
  while (comma < 0 && buffered.length <= MAX_DATA_URI_HEADER) {
    const next = await rest.next();
    if (next.done) break;
    buffered = Buffer.concat([buffered, next.value]);
    comma = buffered.indexOf(',');
  }
  const header = comma < 0 ? '' : buffered.subarray(0, comma).toString('latin1').trim();
  if (comma < 0 || comma > MAX_DATA_URI_HEADER || !/^data:[^,]*;base64$/i.test(header)) {
    throw new InvalidRequestError('Expected the image as a data: URI of the form data:<type>;base64,<data>');
  }
  return { kind: 'file', file: await spool(decodeBase64(prepend(buffered.subarray(comma + 1), rest))), sentAs: 'base64' };
}

async function* prepend(first: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}
