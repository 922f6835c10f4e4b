import { InvalidRequestError } from '@renditions/errors';

/** One piece of a form body: a field's name, a chunk of its (decoded) value, or the end of the field. */
export type FormSegment = { kind: 'name'; name: string } | { kind: 'value'; chunk: Buffer } | { kind: 'end' };

const MAX_NAME_BYTES = 100;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;
const PERCENT = 0x25;
const PLUS = 0x2b;
const SPACE = 0x20;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Splits an `application/x-www-form-urlencoded` body into names and value chunks as it arrives, percent-decoding
 * on the way (`+` is a space), so a 27 MB base64 `image` flows through without being held whole. body-parser and
 * busboy both buffer every value; Imgur clients (curl, Python's requests) send the image exactly this way.
 * @throws {InvalidRequestError} a malformed percent-escape, a name over 100 bytes or not UTF-8
 */
export async function* formSegments(body: AsyncIterable<Buffer>): AsyncGenerator<FormSegment> {
  let inName = true;
  let name: number[] = [];
  // A percent-escape may straddle two chunks: the hex digits read so far, while one is open.
  let escape: number[] | undefined;

  const finishName = (): FormSegment => {
    let decoded: string;
    try {
      decoded = utf8.decode(Uint8Array.from(name));
    } catch {
      throw new InvalidRequestError('Expected form field names in UTF-8 but received bytes that are not');
    }
    name = [];
    inName = false;
    return { kind: 'name', name: decoded };
  };

  for await (const chunk of body) {
    let value = Buffer.allocUnsafe(chunk.length);
    let length = 0;
    const emit = (byte: number) => {
      if (!inName) {
        value[length++] = byte;
        return;
      }
      if (name.length >= MAX_NAME_BYTES) {
        throw new InvalidRequestError(`Expected form field names of at most ${MAX_NAME_BYTES} bytes`);
      }
      name.push(byte);
    };
    const flushValue = function* (): Generator<FormSegment> {
      if (length === 0) return;
      yield { kind: 'value', chunk: value.subarray(0, length) };
      value = value.subarray(length);
      length = 0;
    };

    for (const byte of chunk) {
      if (escape) {
        escape.push(byte);
        if (escape.length < 2) continue;
        const [high, low] = escape.map(hexValue) as [number, number];
        escape = undefined;
        if (high < 0 || low < 0) throw new InvalidRequestError('The form body has a malformed percent-escape');
        emit(high * 16 + low);
      } else if (byte === PERCENT) {
        escape = [];
      } else if (byte === AMPERSAND) {
        if (inName && name.length === 0) continue;
        if (inName) yield finishName();
        yield* flushValue();
        yield { kind: 'end' };
        inName = true;
      } else if (byte === EQUALS && inName) {
        yield finishName();
      } else {
        emit(byte === PLUS ? SPACE : byte);
      }
    }
    yield* flushValue();
  }
  if (escape) throw new InvalidRequestError('The form body ends inside a percent-escape');
  if (inName && name.length === 0) return;
  if (inName) yield finishName();
  yield { kind: 'end' };
}

/** The value chunks of the field whose name was just read, up to its end. */
export async function* fieldValue(segments: AsyncIterator<FormSegment>): AsyncGenerator<Buffer> {
  for (let next = await segments.next(); !next.done; next = await segments.next()) {
    if (next.value.kind === 'end') return;
    if (next.value.kind === 'value') yield next.value.chunk;
  }
}
