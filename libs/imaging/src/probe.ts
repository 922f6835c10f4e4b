import type { Metadata } from 'sharp';
import { InvalidImageError, TooManyPixelsError, UnsupportedTypeError } from '@renditions/errors';
import { ByteReader } from './byte-reader';
import { ContainerLimitError, MalformedContainerError } from './container-errors';
import { decoderReason, displayedSize, effectiveOrientation, frameCount, openImage, readMetadata } from './decode';
import { jpegFrameMarker } from './jpeg-frame-marker';
import { jpegSkeleton } from './jpeg-skeleton';
import { verifyPngChunks } from './png-chunks';
import { detectFileType, FORMAT_NAMES, SNIFF_BYTES, sniffImageType } from './sniff';
import type { ImageProbe, SniffedType, SourceFormat } from './types';

export interface ProbeOptions {
  /** Largest accepted pixel count of one frame, checked from the header before decoding. */
  maxInputPixels: number;
  /** Most frames an animation (GIF, WebP) may have. */
  maxAnimationFrames: number;
  /** Largest pixel count of all an animation's frames together (width x frame height x frames). */
  maxAnimationPixels: number;
}

/** The format name libvips reports for each accepted format. */
const DECODER_FORMAT: Readonly<Record<SourceFormat, string>> = {
  jpeg: 'jpeg',
  png: 'png',
  gif: 'gif',
  webp: 'webp',
  avif: 'heif',
  tiff: 'tiff',
};

/**
 * The validation decode renders into this box: every byte of compressed data still goes through the decoder,
 * but JPEG (libjpeg DCT scaling, 1/8) and WebP shrink on load, so a 12 MP JPEG costs ~70 ms instead of ~130 ms
 * for a full decode. AVIF has no such shortcut: libheif decodes everything (~0.7 s for 12 MP).
 */
const VALIDATION_BOX = 64;

/** JPEG coding processes browsers cannot display; libvips 8.17 now decodes lossless JPEG, but nobody could view it. */
const UNSUPPORTED_JPEG_PROCESSES: Readonly<Record<number, string>> = {
  0xc3: 'lossless JPEG (SOF3)',
  0xc5: 'hierarchical JPEG (SOF5)',
  0xc6: 'hierarchical progressive JPEG (SOF6)',
  0xc7: 'hierarchical lossless JPEG (SOF7)',
  0xcb: 'lossless arithmetic-coded JPEG (SOF11)',
  0xcd: 'hierarchical arithmetic-coded JPEG (SOF13)',
  0xce: 'hierarchical progressive arithmetic-coded JPEG (SOF14)',
  0xcf: 'hierarchical lossless arithmetic-coded JPEG (SOF15)',
};

const ACCEPTED_LIST = 'a JPEG, PNG, GIF, WebP, AVIF or TIFF image';

/** What was learnt from an upload's bytes as they arrived, so validation need not read them again. */
export interface ArrivedAs {
  /** The skeleton a JpegSkeletonScanner built from these very bytes, when they are a JPEG that has one. */
  jpegSkeleton?: Buffer;
}

/**
 * Validates an upload and describes it, in this order: sniff the bytes, read the header, enforce the pixel
 * limit (before any pixel is decoded), check the container structure, then decode everything cheaply
 * (shrink-on-load into a tiny box) to catch truncated and corrupt files before they are stored. A baseline JPEG
 * whose structure shows its data complete decodes as its skeleton instead (see jpegSkeleton): the same verdict for
 * ~1 ms instead of ~50 ms for 12 MP; a skeleton libvips refuses still gets the full decode, which names the reason.
 *
 * A path is never read into memory: sharp reads the file itself (on libuv threads), and the sniff and the
 * structure checks read it through one 64 KiB window (see ByteReader), a window per event-loop turn. A Buffer
 * goes through the very same windows, so both inputs are judged by the same code.
 * @param input a file path or the file's bytes
 * @param arrived what was learnt from the same bytes as they arrived (spared from reading them again)
 * @returns type, displayed (auto-oriented) size, EXIF orientation and frame count
 * @throws {UnsupportedTypeError} the bytes are not JPEG/PNG/GIF/WebP/AVIF/TIFF (SVG, HTML, HEIC, lossless JPEG...)
 * @throws {TooManyPixelsError} a frame declares more than `maxInputPixels` pixels, or an animation more than
 *   `maxAnimationFrames` frames or `maxAnimationPixels` pixels in all
 * @throws {InvalidImageError} the header cannot be read, the image data is corrupt or truncated, or the container
 *   has absurdly many chunks or segments (see MAX_PNG_CHUNKS, MAX_JPEG_SEGMENTS_BEFORE_FRAME)
 * @throws the file system's error when `input` is a path that cannot be read (not a validation failure)
 */
export async function probeImage(input: string | Buffer, opts: ProbeOptions, arrived: ArrivedAs = {}): Promise<ImageProbe> {
  const { sniffed, meta, pages, skeleton } = await inspect(input, opts, arrived);
  if (!(skeleton && (await decodes(skeleton)))) await validationDecode(input, sniffed, pages, opts);
  return {
    ...sniffed,
    ...displayedSize(meta),
    orientation: effectiveOrientation(meta),
    pages,
  };
}

/** Every check before the decode. The file is open only for these, so a slow decode holds no descriptor. */
async function inspect(input: string | Buffer, opts: ProbeOptions, arrived: ArrivedAs) {
  const reader = typeof input === 'string' ? await ByteReader.openFile(input) : ByteReader.fromBuffer(input);
  try {
    // A copy: the reader's window is reused by the next read, and the sniffer is asynchronous.
    const head = Buffer.from(await reader.bytes(0, Math.min(SNIFF_BYTES, reader.size)));
    const sniffed = await sniffImageType(head);
    if (!sniffed) throw new UnsupportedTypeError(`Expected ${ACCEPTED_LIST}; ${await describeUnsupported(head)}`);

    const meta = await readHeader(input, sniffed);
    checkDecoderAgrees(meta, sniffed);
    const pages = frameCount(meta);
    checkPixelLimit(meta, pages, opts);
    await checkStructure(reader, sniffed);
    const skeleton = sniffed.format === 'jpeg' ? (arrived.jpegSkeleton ?? (await jpegSkeleton(reader))) : undefined;
    return { sniffed, meta, pages, skeleton };
  } finally {
    await reader.close();
  }
}

/** @param head the first SNIFF_BYTES of the file, or all of it when shorter */
async function describeUnsupported(head: Buffer): Promise<string> {
  if (head.length === 0) return 'the file is empty';
  const detected = await detectFileType(head);
  return detected
    ? `the bytes are ${detected.mime} (.${detected.ext})`
    : 'the bytes match no known image signature (SVG, HTML and text are refused)';
}

async function readHeader(input: string | Buffer, sniffed: SniffedType): Promise<Metadata> {
  try {
    return await readMetadata(input);
  } catch (error) {
    throw new InvalidImageError(
      `Expected a readable ${FORMAT_NAMES[sniffed.format]} header; ${decoderReason(error)}`,
      { cause: error },
    );
  }
}

function checkDecoderAgrees(meta: Metadata, sniffed: SniffedType): void {
  const name = FORMAT_NAMES[sniffed.format];
  if (meta.format !== DECODER_FORMAT[sniffed.format]) {
    throw new InvalidImageError(`Expected ${name} data, as its signature says; the decoder reads it as ${meta.format}`);
  }
  // An "avif" brand on an HEVC payload is HEIC in disguise: browsers cannot show it.
  if (sniffed.format === 'avif' && meta.compression !== 'av1') {
    throw new UnsupportedTypeError(`Expected AV1-coded AVIF; this file holds ${meta.compression ?? 'unknown'}-coded images`);
  }
}

function checkPixelLimit(meta: Metadata, pages: number, limits: ProbeOptions): void {
  const { maxInputPixels, maxAnimationFrames, maxAnimationPixels } = limits;
  const width = meta.width;
  const height = meta.pageHeight ?? meta.height;
  const framePixels = width * height;
  if (framePixels > maxInputPixels) {
    throw new TooManyPixelsError(
      `Expected at most ${maxInputPixels} pixels; the image declares ${width}x${height} (${framePixels} pixels)`,
      { details: { width, height, maxInputPixels } },
    );
  }
  if (pages === 1) return;
  // Every frame is decoded for an animated WebP rendition: frames and their total size bound a worker's time.
  if (pages > maxAnimationFrames) {
    throw new TooManyPixelsError(
      `Expected an animation of at most ${maxAnimationFrames} frames; this one declares ${pages} frames of ${width}x${height}`,
      { details: { width, height, pages, maxAnimationFrames } },
    );
  }
  if (framePixels * pages > maxAnimationPixels) {
    throw new TooManyPixelsError(
      `Expected at most ${maxAnimationPixels} pixels in all frames together; the animation declares ${pages} frames ` +
        `of ${width}x${height} (${framePixels * pages} pixels)`,
      { details: { width, height, pages, maxAnimationPixels } },
    );
  }
}

/**
 * Walker errors are translated by type: a malformed or absurd container refuses the upload; anything else
 * (a read failing) is ours and propagates.
 */
async function checkStructure(reader: ByteReader, sniffed: SniffedType): Promise<void> {
  const name = FORMAT_NAMES[sniffed.format];
  if (sniffed.format === 'png') {
    try {
      await verifyPngChunks(reader);
    } catch (error) {
      if (!(error instanceof MalformedContainerError || error instanceof ContainerLimitError)) throw error;
      throw new InvalidImageError(`Expected intact ${name} chunks; ${error.message}`, { cause: error });
    }
  }
  if (sniffed.format === 'jpeg') {
    let marker: number | undefined;
    try {
      marker = await jpegFrameMarker(reader);
    } catch (error) {
      if (error instanceof ContainerLimitError) {
        throw new InvalidImageError(`Expected intact ${name} segments; ${error.message}`, { cause: error });
      }
      // libjpeg tolerates some malformations (stray bytes between segments): the decode below judges.
      if (error instanceof MalformedContainerError) return;
      throw error;
    }
    const unsupported = marker === undefined ? undefined : UNSUPPORTED_JPEG_PROCESSES[marker];
    if (unsupported) {
      throw new UnsupportedTypeError(
        `Expected a baseline, progressive or arithmetic-coded JPEG; this is a ${unsupported}, which browsers cannot display`,
      );
    }
  }
}

/** Whether libvips reads a JPEG skeleton without an error: its tables and headers pass libjpeg's checks. */
async function decodes(skeleton: Buffer): Promise<boolean> {
  try {
    await openImage(skeleton).raw().toBuffer();
    return true;
  } catch {
    // The full decode that follows judges the file itself and reports libvips' reason.
    return false;
  }
}

async function validationDecode(input: string | Buffer, sniffed: SniffedType, pages: number, limits: ProbeOptions) {
  const animated = pages > 1;
  // An animation decodes as one tall image of every frame: sharp's own limit then applies to the total.
  const limit = animated ? limits.maxAnimationPixels : limits.maxInputPixels;
  try {
    // ignoreIcc: colour is irrelevant here, and building a CMS transform costs more than decoding a small file.
    await openImage(input, { animated, limitInputPixels: Math.max(1, Math.floor(limit)), ignoreIcc: true })
      .resize(VALIDATION_BOX, VALIDATION_BOX, { fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true })
      .raw()
      .toBuffer();
  } catch (error) {
    throw new InvalidImageError(
      `Expected complete ${FORMAT_NAMES[sniffed.format]} image data; decoding failed: ${decoderReason(error)}`,
      { cause: error },
    );
  }
}
