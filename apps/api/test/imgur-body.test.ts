import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '@renditions/errors';
import { decodeBase64 } from '../src/imgur/base64';
import { fieldValue, formSegments } from '../src/imgur/form-urlencoded';

async function* chunks(text: string, splitAt: number[]): AsyncGenerator<Buffer> {
  let start = 0;
  for (const end of [...splitAt, text.length]) {
    yield Buffer.from(text.slice(start, end), 'latin1');
    start = end;
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/** Every field of a form body as the streaming parser reads it, values joined. */
async function parseForm(body: string, splitAt: number[]): Promise<Array<[string, string]>> {
  const segments = formSegments(chunks(body, splitAt))[Symbol.asyncIterator]();
  const fields: Array<[string, string]> = [];
  for (let next = await segments.next(); !next.done; next = await segments.next()) {
    if (next.value.kind === 'name') fields.push([next.value.name, (await collect(fieldValue(segments))).toString('utf8')]);
  }
  return fields;
}

describe('decodeBase64, streaming', () => {
  const bytes = Buffer.from(Array.from({ length: 50 }, (_, i) => (i * 37) % 256));

  it('decodes the same bytes wherever the chunks split, padded, unpadded, wrapped or URL-safe', async () => {
    for (const text of [
      bytes.toString('base64'),
      bytes.toString('base64').replace(/=+$/, ''),
      bytes.toString('base64').replace(/.{10}/g, '$&\r\n'),
      bytes.toString('base64url'),
    ]) {
      for (let split = 0; split <= text.length; split += 1) {
        expect(await collect(decodeBase64(chunks(text, [split]))), `${text} split at ${split}`).toEqual(bytes);
      }
    }
  });

  it('refuses what is not base64, naming what and where', async () => {
    await expect(collect(decodeBase64(chunks('QUFB\u0000QUFB', [2])))).rejects.toThrow(/"\\u0000" at offset 4/);
    await expect(collect(decodeBase64(chunks('QQ==', [])))).resolves.toEqual(Buffer.from('A'));
    await expect(collect(decodeBase64(chunks('QQ==QQ==', [4])))).rejects.toBeInstanceOf(InvalidRequestError);
  });
});

describe('formSegments, streaming application/x-www-form-urlencoded', () => {
  it('reads the same fields wherever the chunks split, percent-escapes included', async () => {
    const body = 'type=base64&image=ab%2B%2Fcd%3D%3D&title=caf%C3%A9+au+lait&&empty=&flag';
    const expected = [
      ['type', 'base64'],
      ['image', 'ab+/cd=='],
      ['title', 'café au lait'],
      ['empty', ''],
      ['flag', ''],
    ];
    for (let split = 0; split <= body.length; split += 1) {
      expect(await parseForm(body, [split]), `split at ${split}`).toEqual(expected);
    }
  });

  it('refuses a malformed escape, a name that is not UTF-8, and an escape cut off at the end', async () => {
    await expect(parseForm('image=%zz', [])).rejects.toThrow(/percent-escape/);
    await expect(parseForm('%ff=1', [])).rejects.toThrow(/UTF-8/);
    await expect(parseForm('image=QU%4', [])).rejects.toThrow(/inside a percent-escape/);
  });
});
