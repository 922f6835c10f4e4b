import { ByteReader } from './byte-reader';
import { ContainerLimitError, MalformedContainerError } from './container-errors';
import { EOI, isStandalone, isStartOfFrame, SOI, SOS } from './jpeg-segments';
import { nextTurn, STEPS_PER_TURN } from './turns';

/**
 * Most marker segments a JPEG may have before its frame header. Real files have a few dozen (APPn metadata,
 * DQT, DHT; an ICC profile takes at most 255 APP2 segments); 20 MB of 4-byte comment segments would be 5 M.
 */
export const MAX_JPEG_SEGMENTS_BEFORE_FRAME = 10_000;

const hexByte = (value: number) => value.toString(16).padStart(2, '0');

/**
 * The SOF marker of the first frame header, which names the coding process (c0 baseline, c2 progressive,
 * c3 lossless, c9 arithmetic, ...). Walks the segments by the strict rules of jpegSegments (jpeg-segments.ts), but reads
 * only segment headers, through a {@link ByteReader} window: payloads are skipped unread, and memory and the
 * work per event-loop turn stay bounded whatever the file holds.
 * @param input the JPEG's bytes, or a reader over its file
 * @returns the marker byte, or undefined when EOI or a scan (SOS) comes before any frame header; the scan's
 *   entropy-coded data is not read
 * @throws {MalformedContainerError} when the segment structure is malformed before the frame header
 * @throws {ContainerLimitError} when more than {@link MAX_JPEG_SEGMENTS_BEFORE_FRAME} segments precede it
 */
export async function jpegFrameMarker(input: Buffer | ByteReader): Promise<number | undefined> {
  const reader = input instanceof ByteReader ? input : ByteReader.fromBuffer(input);
  const { size } = reader;
  if (size < 4 || !isSoi(await reader.bytes(0, 2))) {
    throw new MalformedContainerError('expected a JPEG SOI marker (ff d8) at offset 0');
  }
  let offset = 2;
  for (let segments = 1; ; segments += 1) {
    if (segments > MAX_JPEG_SEGMENTS_BEFORE_FRAME) {
      throw new ContainerLimitError(
        `too many segments: expected a frame header within ${MAX_JPEG_SEGMENTS_BEFORE_FRAME}; none by offset ${offset}`,
      );
    }
    if (segments % STEPS_PER_TURN === 0) await nextTurn();
    if (offset >= size) throw new MalformedContainerError(`expected a marker at offset ${offset}; the data ended without EOI`);
    const first = (await reader.bytes(offset, 1))[0]!;
    if (first !== 0xff) {
      throw new MalformedContainerError(`expected a marker (0xff) at offset ${offset}; found 0x${hexByte(first)}`);
    }
    // Any number of 0xff fill bytes may precede a marker: the segment starts at the last of them.
    const start = (await reader.skipRepeated(0xff, offset + 1)) - 1;
    if (start + 1 >= size) throw new MalformedContainerError(`expected a marker code at offset ${start + 1}; the data ended`);
    const marker = (await reader.bytes(start + 1, 1))[0]!;
    if (marker === 0x00 || marker === SOI) {
      throw new MalformedContainerError(`expected a segment marker at offset ${start}; found ff ${hexByte(marker)}`);
    }
    if (isStandalone(marker)) {
      if (marker === EOI) return undefined;
      offset = start + 2;
      continue;
    }
    if (start + 4 > size) {
      throw new MalformedContainerError(`expected a 2-byte segment length at offset ${start + 2}; the data ended`);
    }
    const length = (await reader.bytes(start + 2, 2)).readUInt16BE(0);
    const payloadEnd = start + 2 + length;
    if (length < 2 || payloadEnd > size) {
      throw new MalformedContainerError(
        `segment ff ${marker.toString(16)} at offset ${start} declares length ${length}; expected 2..${size - start - 2}`,
      );
    }
    if (isStartOfFrame(marker)) return marker;
    if (marker === SOS) return undefined;
    offset = payloadEnd;
  }
}

function isSoi(head: Buffer): boolean {
  return head[0] === 0xff && head[1] === SOI;
}
