import { crc32 } from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Walks a PNG's chunk structure and checks the CRC of every critical chunk (IHDR, PLTE, IDAT, IEND).
 *
 * Needed because libvips' PNG loader (libspng) is set to ignore CRC errors, so a file with a corrupted IDAT
 * (PngSuite xcsn0g01) decodes "successfully" into garbage. Ancillary chunks are not checked, matching
 * libpng's default (warn and drop), which is what browsers do; their lengths are still bounds-checked.
 * Pure: no decoding, no allocation beyond the CRC.
 * @throws {Error} when the signature, a chunk length or a critical chunk's CRC is wrong, or the data ends inside a chunk
 */
export function verifyPngChunks(buf: Buffer): void {
  if (buf.length < PNG_SIGNATURE.length || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new Error('expected the 8-byte PNG signature at offset 0');
  }
  let offset = PNG_SIGNATURE.length;
  while (offset < buf.length) {
    if (offset + 12 > buf.length) {
      throw new Error(`expected a 12-byte chunk header and CRC at offset ${offset}; only ${buf.length - offset} bytes remain`);
    }
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    // The PNG spec caps chunk lengths at 2^31-1; anything past the end of the file is a truncation or a bomb.
    if (length > 0x7fffffff || offset + 12 + length > buf.length) {
      throw new Error(
        `chunk "${type}" at offset ${offset} declares ${length} bytes; only ${buf.length - offset - 12} remain`,
      );
    }
    const isCritical = (buf[offset + 4]! & 0x20) === 0;
    if (isCritical) {
      const expected = buf.readUInt32BE(offset + 8 + length);
      const actual = crc32(buf.subarray(offset + 4, offset + 8 + length));
      if (expected !== actual) {
        throw new Error(
          `chunk "${type}" at offset ${offset} has CRC ${hex(expected)}; its data gives ${hex(actual)} (corrupt)`,
        );
      }
    }
    if (type === 'IEND') return;
    offset += 12 + length;
  }
  // Running out exactly at a chunk boundary without IEND: the decoder decides (failOn catches a missing IDAT tail).
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
