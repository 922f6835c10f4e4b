import { crc32 } from 'node:zlib';
import { ByteReader } from './byte-reader';
import { ContainerLimitError, MalformedContainerError } from './container-errors';
import { nextTurn, STEPS_PER_TURN } from './turns';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Most chunks a PNG may have. Encoders write IDAT in 8-64 KiB pieces (libpng: 8 KiB), so a 20 MB PNG has a few
 * thousand chunks; even one IDAT per row of a 10,000-row image stays far below this. 1.75 M empty IDAT chunks
 * fit in 20 MB: with this cap such a file is refused after reading 1.2 MB, in 60-70 ms of CPU spread over
 * ~400 event-loop turns, instead of 0.7 s in one.
 */
export const MAX_PNG_CHUNKS = 100_000;

/**
 * Walks a PNG's chunk structure and checks the CRC of every critical chunk (IHDR, PLTE, IDAT, IEND).
 *
 * Needed because libvips' PNG loader (libspng) is set to ignore CRC errors, so a file with a corrupted IDAT
 * (PngSuite xcsn0g01) decodes "successfully" into garbage. Ancillary chunks are not checked, matching
 * libpng's default (warn and drop), which is what browsers do; their lengths are still bounds-checked and
 * their data is skipped unread. Reads through a {@link ByteReader} window, so memory and the work per
 * event-loop turn stay bounded whatever the file holds.
 * @param input the PNG's bytes, or a reader over its file
 * @throws {MalformedContainerError} when the signature, a chunk length or a critical chunk's CRC is wrong, or the
 *   data ends inside a chunk
 * @throws {ContainerLimitError} when the file has more than {@link MAX_PNG_CHUNKS} chunks
 */
export async function verifyPngChunks(input: Buffer | ByteReader): Promise<void> {
  const reader = input instanceof ByteReader ? input : ByteReader.fromBuffer(input);
  const { size } = reader;
  if (size < PNG_SIGNATURE.length || !(await reader.bytes(0, PNG_SIGNATURE.length)).equals(PNG_SIGNATURE)) {
    throw new MalformedContainerError('expected the 8-byte PNG signature at offset 0');
  }
  let offset = PNG_SIGNATURE.length;
  for (let chunks = 1; offset < size; chunks += 1) {
    if (chunks > MAX_PNG_CHUNKS) {
      throw new ContainerLimitError(
        `too many chunks: expected at most ${MAX_PNG_CHUNKS}; chunk ${chunks} starts at offset ${offset}`,
      );
    }
    if (chunks % STEPS_PER_TURN === 0) await nextTurn();
    if (offset + 12 > size) {
      throw new MalformedContainerError(
        `expected a 12-byte chunk header and CRC at offset ${offset}; only ${size - offset} bytes remain`,
      );
    }
    // The view is only valid until the next read: take everything needed from the header now.
    const header = reader.peek(offset, 8) ?? (await reader.bytes(offset, 8));
    const length = header.readUInt32BE(0);
    const type = header.toString('latin1', 4, 8);
    const isCritical = (header[4]! & 0x20) === 0;
    // The PNG spec caps chunk lengths at 2^31-1; anything past the end of the file is a truncation or a bomb.
    if (length > 0x7fffffff || offset + 12 + length > size) {
      throw new MalformedContainerError(
        `chunk "${type}" at offset ${offset} declares ${length} bytes; only ${size - offset - 12} remain`,
      );
    }
    if (isCritical) {
      // The CRC covers the type and the data. Most chunks lie within the current window: no await for them.
      const chunk = reader.peek(offset, 12 + length);
      const crcs = chunk ? crcsInWindow(chunk, length) : await crcsAcrossWindows(reader, offset, length);
      if (crcs.stored !== crcs.computed) {
        throw new MalformedContainerError(
          `chunk "${type}" at offset ${offset} has CRC ${hex(crcs.stored)}; its data gives ${hex(crcs.computed)} (corrupt)`,
        );
      }
    }
    if (type === 'IEND') return;
    offset += 12 + length;
  }
  // Running out exactly at a chunk boundary without IEND: the decoder decides (failOn catches a missing IDAT tail).
}

interface ChunkCrcs {
  stored: number;
  computed: number;
}

/** @param chunk the whole chunk: length, type, data, CRC */
function crcsInWindow(chunk: Buffer, length: number): ChunkCrcs {
  return { stored: chunk.readUInt32BE(8 + length), computed: crc32(chunk.subarray(4, 8 + length)) };
}

/** For chunks larger than a window (IDAT is often 64 KiB or more): the CRC is computed slice by slice. */
async function crcsAcrossWindows(reader: ByteReader, offset: number, length: number): Promise<ChunkCrcs> {
  let computed = crc32(await reader.bytes(offset + 4, 4));
  await reader.forEachSlice(offset + 8, length, (slice) => {
    computed = crc32(slice, computed);
  });
  const stored = (await reader.bytes(offset + 8 + length, 4)).readUInt32BE(0);
  return { stored, computed };
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
