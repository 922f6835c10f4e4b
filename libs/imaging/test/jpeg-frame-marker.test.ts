import { describe, expect, it } from 'vitest';
import { READ_WINDOW_BYTES } from '../src/byte-reader';
import { ContainerLimitError, MalformedContainerError } from '../src/container-errors';
import { jpegFrameMarker, MAX_JPEG_SEGMENTS_BEFORE_FRAME } from '../src/jpeg-frame-marker';
import { isStartOfFrame, jpegSegments, SOS } from '../src/jpeg-segments';
import { corpusFiles, readCorpus } from './corpus';

const EMPTY_COMMENT = Buffer.from([0xff, 0xfe, 0x00, 0x02]);

/** What the probe acts on: the frame marker, or 'none' (no frame header before the scan, or a malformed walk). */
type Verdict = number | 'none';

/** The same question answered by the stripper's whole-buffer walker, whose rules the windowed one follows. */
function referenceVerdict(jpeg: Buffer): Verdict {
  try {
    for (const segment of jpegSegments(jpeg)) {
      if (isStartOfFrame(segment.marker)) return segment.marker;
      if (segment.marker === SOS) return 'none';
    }
  } catch {
    return 'none';
  }
  return 'none';
}

async function windowedVerdict(jpeg: Buffer): Promise<Verdict> {
  try {
    return (await jpegFrameMarker(jpeg)) ?? 'none';
  } catch (error) {
    if (error instanceof MalformedContainerError) return 'none';
    throw error;
  }
}

/** `count` empty comment segments right after SOI. */
function withComments(jpeg: Buffer, count: number): Buffer {
  return Buffer.concat([jpeg.subarray(0, 2), Buffer.alloc(EMPTY_COMMENT.length * count).fill(EMPTY_COMMENT), jpeg.subarray(2)]);
}

/** A small deterministic PRNG, so a failing mutation can be reproduced. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

const JPEGS = [...corpusFiles('photos'), ...corpusFiles('formats'), ...corpusFiles('orientation'), ...corpusFiles('bad')].filter((file) =>
  /\.jpe?g$/i.test(file),
);

describe('jpegFrameMarker', () => {
  it.each(JPEGS)('agrees with the whole-buffer walker on %s, cut short and with bytes flipped', async (file) => {
    const jpeg = readCorpus(file);
    expect(await windowedVerdict(jpeg)).toBe(referenceVerdict(jpeg));
    for (const fraction of [0.001, 0.01, 0.05, 0.2, 0.7]) {
      const cut = jpeg.subarray(0, Math.floor(jpeg.length * fraction));
      expect(await windowedVerdict(cut), `${file} cut at ${cut.length}`).toBe(referenceVerdict(cut));
    }
    const random = prng(jpeg.length);
    for (let i = 0; i < 40; i++) {
      const mutated = Buffer.from(jpeg);
      const at = Math.floor(random() * Math.min(jpeg.length, 4096));
      mutated[at] = Math.floor(random() * 256);
      expect(await windowedVerdict(mutated), `${file} with byte ${at} = ${mutated[at]}`).toBe(referenceVerdict(mutated));
    }
  });

  it('names the malformation, as the whole-buffer walker does', async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    await expect(jpegFrameMarker(photo.subarray(2))).rejects.toThrow(/expected a JPEG SOI marker/);
    await expect(jpegFrameMarker(Buffer.concat([photo.subarray(0, 2), Buffer.from([0x12]), photo.subarray(2)]))).rejects.toThrow(
      /expected a marker \(0xff\) at offset 2; found 0x12/,
    );
    await expect(jpegFrameMarker(photo.subarray(0, 30))).rejects.toThrow(/declares length/);
  });

  it('finds the frame header behind fill bytes and metadata spanning many read windows', async () => {
    const photo = readCorpus('formats/testimgl.jpg'); // lossless: SOF3
    const fill = Buffer.alloc(3 * READ_WINDOW_BYTES, 0xff);
    const comment = Buffer.alloc(65535 + 2, 0x41);
    comment.writeUInt16BE(0xfffe, 0);
    comment.writeUInt16BE(65535, 2);
    const padded = Buffer.concat([photo.subarray(0, 2), comment, comment, fill, photo.subarray(2)]);
    expect(referenceVerdict(padded)).toBe(0xc3);
    expect(await jpegFrameMarker(padded)).toBe(0xc3);
  });

  it(`refuses more than ${MAX_JPEG_SEGMENTS_BEFORE_FRAME} segments before the frame header`, async () => {
    const photo = readCorpus('photos/DSCN0010.jpg');
    const ownSegmentsBeforeFrame = [...jpegSegments(photo)].findIndex((segment) => isStartOfFrame(segment.marker));
    // With this many comments in front, the frame header is segment 10,000 exactly: still found.
    const mostComments = MAX_JPEG_SEGMENTS_BEFORE_FRAME - 1 - ownSegmentsBeforeFrame;
    expect(await jpegFrameMarker(withComments(photo, mostComments))).toBe(0xc0);
    const bomb = withComments(photo, mostComments + 1);
    await expect(jpegFrameMarker(bomb)).rejects.toThrow(ContainerLimitError);
    await expect(jpegFrameMarker(bomb)).rejects.toThrow(/too many segments: expected a frame header within 10000; none by offset/);
  });
});
