import { InvalidRequestError } from '@renditions/errors';

/** The standard and the URL-safe alphabets (Buffer decodes both), padding, and the line breaks encoders insert. */
const NOT_BASE64 = /[^A-Za-z0-9+/\-_=\r\n\t ]/;
const WHITESPACE = /[\r\n\t ]+/g;

/** The longest base64 text (with a little room for line breaks) that can hold `bytes` bytes. */
export function base64Length(bytes: number): number {
  const encoded = Math.ceil(bytes / 3) * 4;
  // MIME wraps at 76 characters with CRLF.
  return encoded + Math.ceil(encoded / 76) * 2;
}

/**
 * Decodes base64 text as it arrives, chunk by chunk, so a 20 MB image sent as 27 MB of base64 is never held whole.
 * Strict where a lenient decoder would silently store garbage: a character outside the alphabet, anything after
 * the padding, or a dangling single character is refused.
 * @throws {InvalidRequestError} e.g. `Expected the image as base64 but received "%" at offset 12`
 */
export async function* decodeBase64(text: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry = '';
  let offset = 0;
  let padded = false;
  for await (const chunk of text) {
    const raw = chunk.toString('latin1');
    const bad = NOT_BASE64.exec(raw);
    if (bad) throw notBase64(`received ${JSON.stringify(bad[0])} at offset ${offset + bad.index}`);
    offset += raw.length;
    const clean = raw.replace(WHITESPACE, '');
    if (padded && /[^=]/.test(clean)) throw notBase64('received data after its "=" padding');
    const pad = clean.indexOf('=');
    if (pad >= 0) {
      if (/[^=]/.test(clean.slice(pad))) throw notBase64('received data after its "=" padding');
      padded = true;
    }
    const pending = carry + clean.replace(/=+$/, '');
    const whole = pending.length - (pending.length % 4);
    carry = pending.slice(whole);
    if (whole > 0) yield Buffer.from(pending.slice(0, whole), 'base64');
  }
  // 2 or 3 characters left are 1 or 2 bytes, padded or not; a single one cannot encode a byte.
  if (carry.length === 1) throw notBase64('received a truncated last group');
  if (carry.length > 0) yield Buffer.from(carry, 'base64');
}

function notBase64(problem: string): InvalidRequestError {
  return new InvalidRequestError(`Expected the image as base64 but ${problem}`);
}
