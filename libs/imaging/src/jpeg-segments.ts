/** One marker segment of a JPEG, as byte offsets into the buffer it came from. */
export interface JpegSegment {
  /** The marker's second byte, e.g. 0xe1 for APP1, 0xda for SOS. */
  marker: number;
  /** Offset of the segment's 0xFF marker byte. */
  start: number;
  /** Offset just past the segment; for SOS this includes the entropy-coded data that follows it. */
  end: number;
  /** The segment's payload (after the 2-byte length), empty for markers that have none. */
  payloadStart: number;
  payloadEnd: number;
}

export const SOS = 0xda;
export const EOI = 0xd9;
export const SOI = 0xd8;
const TEM = 0x01;

/** Markers without a length or payload: TEM, the restart markers RST0..7 and EOI. */
export function isStandalone(marker: number): boolean {
  return marker === TEM || (marker >= 0xd0 && marker <= 0xd7) || marker === EOI;
}

/** SOF0..SOF15 minus DHT (c4), JPG (c8) and DAC (cc), which share the range. */
export function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Walks a JPEG's marker segments from SOI to the first EOI (bytes after EOI, such as MPF secondary images
 * or maker trailers, are not visited). Strict on purpose: the stripper must never copy bytes it does not
 * understand, so anything malformed throws instead of being skipped the way libjpeg skips it.
 * Works on a whole buffer, which the stripper holds anyway; upload validation walks the file in windows
 * instead (jpeg-frame-marker.ts), by the same rules.
 * @throws {Error} when SOI is missing, a marker is not where one must be, a length is impossible, or EOI never comes
 */
export function* jpegSegments(buf: Buffer): Generator<JpegSegment> {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== SOI) {
    throw new Error('expected a JPEG SOI marker (ff d8) at offset 0');
  }
  let offset = 2;
  for (;;) {
    if (offset >= buf.length) throw new Error(`expected a marker at offset ${offset}; the data ended without EOI`);
    if (buf[offset] !== 0xff) {
      throw new Error(`expected a marker (0xff) at offset ${offset}; found 0x${buf[offset]!.toString(16).padStart(2, '0')}`);
    }
    // Any number of 0xff fill bytes may precede a marker.
    while (buf[offset + 1] === 0xff) offset += 1;
    const start = offset;
    const marker = buf[offset + 1];
    if (marker === undefined) throw new Error(`expected a marker code at offset ${offset + 1}; the data ended`);
    if (marker === 0x00 || marker === SOI) {
      throw new Error(`expected a segment marker at offset ${start}; found ff ${marker.toString(16).padStart(2, '0')}`);
    }
    if (isStandalone(marker)) {
      yield { marker, start, end: start + 2, payloadStart: start + 2, payloadEnd: start + 2 };
      if (marker === EOI) return;
      offset = start + 2;
      continue;
    }
    if (start + 4 > buf.length) throw new Error(`expected a 2-byte segment length at offset ${start + 2}; the data ended`);
    const length = buf.readUInt16BE(start + 2);
    const payloadEnd = start + 2 + length;
    if (length < 2 || payloadEnd > buf.length) {
      throw new Error(
        `segment ff ${marker.toString(16)} at offset ${start} declares length ${length}; ` +
          `expected 2..${buf.length - start - 2}`,
      );
    }
    const end = marker === SOS ? endOfEntropyCodedData(buf, payloadEnd) : payloadEnd;
    yield { marker, start, end, payloadStart: start + 4, payloadEnd };
    offset = end;
  }
}

/** Entropy-coded data runs until a 0xff that is neither byte stuffing (ff 00), a restart marker nor fill. */
function endOfEntropyCodedData(buf: Buffer, from: number): number {
  let i = from;
  for (;;) {
    i = buf.indexOf(0xff, i);
    if (i === -1 || i + 1 >= buf.length) throw new Error(`scan data starting at offset ${from} runs to the end without EOI`);
    const next = buf[i + 1]!;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) i += 2;
    else if (next === 0xff) i += 1;
    else return i;
  }
}
