import { ByteReader, READ_WINDOW_BYTES } from './byte-reader';
import { MAX_JPEG_SEGMENTS_BEFORE_FRAME } from './jpeg-frame-marker';
import { EOI, isStandalone, isStartOfFrame, SOI, SOS } from './jpeg-segments';

/** Baseline and extended sequential Huffman frames: one pass of entropy-coded data, no arithmetic coder. */
const SEQUENTIAL_HUFFMAN_FRAMES = new Set([0xc0, 0xc1]);
const DRI = 0xdd;
const APP0 = 0xe0;
const APP14 = 0xee;
const COM = 0xfe;
/** Tables and headers of real files take a few KB; a skeleton past this is a file built to be odd: decode it whole. */
const MAX_SKELETON_BYTES = 1024 * 1024;

interface Frame {
  width: number;
  height: number;
  sampling: Array<{ h: number; v: number }>;
}

type Phase =
  /** Reading SOI, or the 4 bytes (0xff, marker, length) that open a segment. */
  | 'head'
  /** Copying a segment the skeleton keeps. */
  | 'segment'
  /** Passing over a segment it drops. */
  | 'skip'
  /** In the entropy-coded data. */
  | 'scan'
  /** EOI came after exactly the restart markers expected: the skeleton is ready. */
  | 'complete'
  /** Anything else: only a full decode can judge the file. */
  | 'unusual';

/**
 * Builds the skeleton of a JPEG from its bytes as they come, in chunks of any size (see {@link jpegSkeleton} for what
 * a skeleton is and why). Feed it every chunk in order, then ask for the {@link skeleton}; it stops looking at
 * bytes once it knows the answer. Memory: the kept segments, at most MAX_SKELETON_BYTES.
 */
export class JpegSkeletonScanner {
  private phase: Phase = 'head';
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  /** The bytes of the segment head (or SOI) read so far. */
  private head: number[] = [];
  private segment = Buffer.alloc(0);
  private filled = 0;
  private toSkip = 0;
  private segments = 0;
  private frame: Frame | undefined;
  private restartInterval = 0;
  private restartsExpected = 0;
  private restartsSeen = 0;
  /** The last byte of the entropy-coded data seen so far was 0xff: the next one says what it meant. */
  private afterFf = false;

  /** Whether more bytes can change the answer. */
  get settled(): boolean {
    return this.phase === 'complete' || this.phase === 'unusual';
  }

  push(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length && !this.settled; ) at = this.step(chunk, at);
  }

  /** The skeleton, once every byte has been pushed; undefined when the file is not one (see jpegSkeleton). */
  skeleton(): Buffer | undefined {
    return this.phase === 'complete' ? Buffer.concat([...this.kept, Buffer.from([0xff, EOI])]) : undefined;
  }

  /** Handles bytes from `at` on; returns where it stopped. */
  private step(chunk: Uint8Array, at: number): number {
    switch (this.phase) {
      case 'head':
        this.head.push(chunk[at]!);
        this.readHead();
        return at + 1;
      case 'segment': {
        const taken = Math.min(chunk.length - at, this.segment.length - this.filled);
        this.segment.set(chunk.subarray(at, at + taken), this.filled);
        this.filled += taken;
        if (this.filled === this.segment.length) this.endSegment();
        return at + taken;
      }
      case 'skip': {
        const taken = Math.min(chunk.length - at, this.toSkip);
        this.toSkip -= taken;
        if (this.toSkip === 0) this.phase = 'head';
        return at + taken;
      }
      case 'scan':
        return this.scan(chunk, at);
      default:
        return chunk.length;
    }
  }

  private readHead(): void {
    const head = this.head;
    if (this.kept.length === 0) {
      // SOI, which every skeleton starts with.
      if (head.length < 2) return;
      if (head[0] !== 0xff || head[1] !== SOI) return this.unusual();
      this.head = [];
      this.keep(Buffer.from(head));
      return;
    }
    const marker = head[1];
    // Fill bytes, stray bytes, a second SOI, a standalone marker before the scan: legal or not, decode it whole.
    if (head[0] !== 0xff) return this.unusual();
    if (marker === undefined) return;
    if (marker === 0xff || marker === 0x00 || marker === SOI || isStandalone(marker)) return this.unusual();
    if (head.length < 4) return;
    const length = 2 + ((head[2]! << 8) | head[3]!);
    this.head = [];
    this.segments += 1;
    if (length < 4 || this.segments > MAX_JPEG_SEGMENTS_BEFORE_FRAME) return this.unusual();
    // APPn and COM carry metadata, which the header read judges; JFIF and Adobe decide the colour transform.
    if ((marker > APP0 && marker <= APP0 + 15 && marker !== APP14) || marker === COM) {
      this.toSkip = length - 4;
      this.phase = this.toSkip === 0 ? 'head' : 'skip';
      return;
    }
    this.segment = Buffer.alloc(length);
    this.segment.set(head);
    this.filled = 4;
    this.phase = 'segment';
    if (length === 4) this.endSegment();
  }

  private endSegment(): void {
    const segment = this.segment;
    const marker = segment[1]!;
    this.phase = 'head';
    this.keep(segment);
    if (this.settled) return;
    if (isStartOfFrame(marker)) {
      this.frame = this.frame ? undefined : parseFrame(marker, segment);
      if (!this.frame) return this.unusual();
      // The frame's size is all the entropy decoder would walk through; 1x1 keeps every other check.
      segment.writeUInt16BE(1, 5);
      segment.writeUInt16BE(1, 7);
    } else if (marker === DRI) {
      if (segment.length !== 6) return this.unusual();
      this.restartInterval = segment.readUInt16BE(4);
    } else if (marker === SOS) {
      // One interleaved scan holding every component of the frame: the whole image in one pass.
      if (!this.frame || segment.length < 5 || segment[4] !== this.frame.sampling.length) return this.unusual();
      this.restartsExpected = expectedRestarts(this.frame, this.restartInterval);
      this.phase = 'scan';
    }
  }

  /**
   * Inside the entropy-coded data a 0xff is followed by 0x00 (a stuffed byte), another 0xff (fill) or a marker: here
   * only RST0..RST7 in turn, then EOI.
   */
  private scan(chunk: Uint8Array, from: number): number {
    let at = from;
    while (at < chunk.length) {
      if (!this.afterFf) {
        const ff = chunk.indexOf(0xff, at);
        if (ff === -1) return chunk.length;
        this.afterFf = true;
        at = ff + 1;
        continue;
      }
      const next = chunk[at]!;
      at += 1;
      if (next === 0xff) continue;
      this.afterFf = false;
      if (next === 0x00) continue;
      if (next === EOI) {
        this.phase = this.restartsSeen === this.restartsExpected ? 'complete' : 'unusual';
        return chunk.length;
      }
      if (next !== 0xd0 + (this.restartsSeen % 8)) {
        this.unusual();
        return chunk.length;
      }
      this.restartsSeen += 1;
    }
    return at;
  }

  /** Adds a segment to the skeleton, unless that takes it past MAX_SKELETON_BYTES. */
  private keep(segment: Buffer): void {
    this.keptBytes += segment.length;
    if (this.keptBytes > MAX_SKELETON_BYTES) this.unusual();
    else this.kept.push(segment);
  }

  private unusual(): void {
    this.phase = 'unusual';
    this.kept.length = 0;
  }
}

/**
 * The skeleton of a JPEG that is complete by its structure: SOI, the tables and headers libjpeg reads (DQT, DHT, DRI,
 * JFIF, Adobe), the frame header with its size set to 1x1, the scan header and EOI, without the entropy-coded data.
 *
 * Why: validating an upload by decoding it costs ~50 ms of a core for a 12 MP photo, almost all of it Huffman
 * decoding, which libjpeg does only to find out whether the data runs out. For a baseline JPEG at libvips' fail_on
 * "error" the structure already answers that: data cut short runs to the end of the file (or misses restart markers),
 * while damaged but complete data only makes libjpeg warn (measured: 2,000 bit flips in a 12 MP photo decode "fine").
 * What the structure cannot show, libjpeg's own checks of the tables and headers, the skeleton still goes through.
 * Anything else, and anything unusual, gives undefined: then only a full decode can judge the file.
 *
 * @param reader the whole JPEG; read window by window, so memory and the work per event-loop turn stay bounded
 * @returns the skeleton when the file is one interleaved scan of a sequential Huffman frame whose entropy-coded data
 *   ends in EOI after exactly the restart markers its size and restart interval call for; undefined otherwise
 *   (progressive, arithmetic, several scans, data that runs to the end, a marker out of place, fill bytes, ...)
 */
export async function jpegSkeleton(reader: ByteReader): Promise<Buffer | undefined> {
  const scanner = new JpegSkeletonScanner();
  for (let position = 0; position < reader.size && !scanner.settled; ) {
    // A new window per event-loop turn (see ByteReader).
    const window = await reader.bytes(position, Math.min(READ_WINDOW_BYTES, reader.size - position));
    scanner.push(window);
    position += window.length;
  }
  return scanner.skeleton();
}

/** @param segment the whole SOFn segment, from its 0xff */
function parseFrame(marker: number, segment: Buffer): Frame | undefined {
  if (!SEQUENTIAL_HUFFMAN_FRAMES.has(marker) || segment.length < 10) return undefined;
  const components = segment[9]!;
  if (components === 0 || segment.length !== 10 + 3 * components) return undefined;
  const sampling = Array.from({ length: components }, (_, i) => ({ h: segment[11 + 3 * i]! >> 4, v: segment[11 + 3 * i]! & 0x0f }));
  const frame = { height: segment.readUInt16BE(5), width: segment.readUInt16BE(7), sampling };
  // A height of 0 defers to a DNL marker after the scan; odd sampling factors are libjpeg's to refuse.
  if (frame.width === 0 || frame.height === 0 || sampling.some(({ h, v }) => h < 1 || h > 4 || v < 1 || v > 4)) return undefined;
  return frame;
}

/** One restart marker between every `restartInterval` MCUs (ITU T.81, A.2): none after the last. */
function expectedRestarts(frame: Frame, restartInterval: number): number {
  if (restartInterval === 0) return 0;
  const hMax = Math.max(...frame.sampling.map(({ h }) => h));
  const vMax = Math.max(...frame.sampling.map(({ v }) => v));
  // A scan of one component has a block per MCU; an interleaved scan covers hMax x vMax blocks per MCU.
  const mcus =
    frame.sampling.length === 1
      ? Math.ceil(frame.width / 8) * Math.ceil(frame.height / 8)
      : Math.ceil(frame.width / (8 * hMax)) * Math.ceil(frame.height / (8 * vMax));
  return Math.ceil(mcus / restartInterval) - 1;
}
