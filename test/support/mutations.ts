import { crc32 } from 'node:zlib';

/**
 * Mutators for the upload fuzz test: each takes a well-formed file and a seeded random source and returns a damaged
 * copy plus a description precise enough to redo it by hand (offsets, values). A mutator returns `undefined` when the
 * file has nothing it can damage (a JPEG without a SOF segment, say). Sources are never modified.
 *
 * The structural mutators aim at the fields decoders and our own container walkers trust: lengths, counts, offsets and
 * dimensions. Random bit flips mostly land in compressed pixel data, which decoders shrug off; these do not.
 */

/** A random number in [0, 1). */
export type Rng = () => number;

export interface Mutant {
  bytes: Buffer;
  /** What was done, with offsets and values, e.g. `maxPngChunkLength(tEXt @33 -> 0x7fffffff)`. */
  mutation: string;
}

export type Mutator = (source: Buffer, rng: Rng) => Mutant | undefined;

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; the same seed always gives the same sequence. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max). */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min));
}

function pick<T>(rng: Rng, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[randomInt(rng, 0, items.length)];
}

// ---------------------------------------------------------------------------------------------------------------
// Any format
// ---------------------------------------------------------------------------------------------------------------

/**
 * Flips `count` random bits, anywhere in the file or only within its first `withinFirst` bytes (where the headers
 * are: a flip there changes what the file claims to be rather than a pixel).
 */
export function flipBits(count: number, withinFirst?: number): Mutator {
  return (source, rng) => {
    const bytes = Buffer.from(source);
    const end = Math.min(bytes.length, withinFirst ?? bytes.length);
    const flipped: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const offset = randomInt(rng, 0, end);
      const bit = randomInt(rng, 0, 8);
      bytes[offset]! ^= 1 << bit;
      flipped.push(`${offset}.${bit}`);
    }
    const where = withinFirst === undefined ? '' : ` in first ${withinFirst} B`;
    const shown = flipped.length > 8 ? `${flipped.slice(0, 8).join(',')},...` : flipped.join(',');
    return { bytes, mutation: `flipBits(${count}${where}: ${shown})` };
  };
}

/** Cuts the file at a random point, anywhere or within its first `withinFirst` bytes (inside the headers). */
export function truncate(withinFirst?: number): Mutator {
  return (source, rng) => {
    const end = Math.min(source.length, withinFirst ?? source.length);
    // At least one byte stays: an empty file is a different, already-tested case (missing_file).
    const length = randomInt(rng, 1, end);
    return { bytes: Buffer.from(source.subarray(0, length)), mutation: `truncate(at ${length} of ${source.length})` };
  };
}

/** The leading magic bytes of each accepted format, as an uploader forging a type would write them. */
const SIGNATURES: Record<string, Buffer> = {
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  gif: Buffer.from('GIF89a', 'latin1'),
  webp: Buffer.concat([Buffer.from('RIFF', 'latin1'), Buffer.alloc(4, 0xff), Buffer.from('WEBPVP8 ', 'latin1')]),
  tiff: Buffer.from([0x49, 0x49, 0x2a, 0x00]),
  avif: Buffer.from('\0\0\0\x1cftypavif', 'latin1'),
};

/** Which of the accepted formats the file's leading bytes claim, by the same signatures the sniffer knows. */
export function formatOf(file: Buffer): string | undefined {
  const ascii = (at: number, text: string) => file.toString('latin1', at, at + text.length) === text;
  if (file.subarray(0, 8).equals(SIGNATURES.png!)) return 'png';
  if (file[0] === 0xff && file[1] === 0xd8 && file[2] === 0xff) return 'jpeg';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'II*\0') || ascii(0, 'MM\0*')) return 'tiff';
  if (ascii(4, 'ftypavif') || ascii(4, 'ftypavis')) return 'avif';
  return undefined;
}

/**
 * Overwrites the file's first bytes with another format's signature (a PNG header on JPEG data): the sniffer then
 * routes the bytes to a decoder that did not expect them.
 */
export function swapSignature(source: Buffer, rng: Rng): Mutant | undefined {
  const own = formatOf(source);
  const format = pick(rng, Object.keys(SIGNATURES).filter((name) => name !== own))!;
  const signature = SIGNATURES[format]!;
  const bytes = Buffer.from(source);
  signature.copy(bytes, 0, 0, Math.min(signature.length, bytes.length));
  return { bytes, mutation: `swapSignature(${own ?? '?'} -> ${format})` };
}

/** A complete PNG header (signature and an IHDR with a valid CRC) put in front of the file: a polyglot. */
export function prependPngHeader(source: Buffer): Mutant {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(64, 0);
  ihdr.writeUInt32BE(64, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return { bytes: Buffer.concat([SIGNATURES.png!, pngChunk('IHDR', ihdr), source]), mutation: 'prependPngHeader(64x64 IHDR)' };
}

// ---------------------------------------------------------------------------------------------------------------
// PNG: length(4 BE) type(4) data crc(4), after an 8-byte signature
// ---------------------------------------------------------------------------------------------------------------

interface Span {
  /** Where the chunk, segment or box starts (its length field). */
  offset: number;
  /** Its whole size in the file, header included. */
  size: number;
  type: string;
}

function pngChunks(png: Buffer): Span[] {
  const chunks: Span[] = [];
  for (let offset = 8; offset + 12 <= png.length; ) {
    const length = png.readUInt32BE(offset);
    const size = 12 + length;
    if (offset + size > png.length) break;
    chunks.push({ offset, size, type: png.toString('latin1', offset + 4, offset + 8) });
    offset += size;
  }
  return chunks;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

/** Repeats one chunk right after itself: a second IHDR, a doubled ancillary chunk, an IDAT read twice. */
export function duplicatePngChunk(source: Buffer, rng: Rng): Mutant | undefined {
  const chunk = pick(rng, pngChunks(source));
  if (!chunk) return undefined;
  return { bytes: duplicateSpan(source, chunk), mutation: `duplicatePngChunk(${chunk.type} @${chunk.offset})` };
}

/** Sets one chunk's length to 0x7fffffff, the largest PNG allows: a reader that trusts it allocates 2 GB or runs off. */
export function maxPngChunkLength(source: Buffer, rng: Rng): Mutant | undefined {
  const chunk = pick(rng, pngChunks(source));
  if (!chunk) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt32BE(0x7fffffff, chunk.offset);
  return { bytes, mutation: `maxPngChunkLength(${chunk.type} @${chunk.offset} -> 0x7fffffff)` };
}

/**
 * Sets IHDR's width and/or height to `value` (default 0x7fffffff, the largest PNG allows) and fixes its CRC, so the lie
 * survives a CRC check: a decompression bomb's header on a small file. libpng refuses more than 1,000,000 outright,
 * so 1,000,000 is what reaches our own pixel limit.
 */
export function maxPngDimensions(which: 'width' | 'height' | 'both', value = 0x7fffffff): Mutator {
  return (source) => {
    const ihdr = pngChunks(source).find((chunk) => chunk.type === 'IHDR');
    if (!ihdr || ihdr.size < 12 + 13) return undefined;
    const bytes = Buffer.from(source);
    if (which !== 'height') bytes.writeUInt32BE(value, ihdr.offset + 8);
    if (which !== 'width') bytes.writeUInt32BE(value, ihdr.offset + 12);
    bytes.writeUInt32BE(crc32(bytes.subarray(ihdr.offset + 4, ihdr.offset + 8 + 13)), ihdr.offset + 8 + 13);
    return { bytes, mutation: `maxPngDimensions(IHDR ${which} -> ${value}, CRC fixed)` };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// JPEG: SOI, then segments FF xx + length(2 BE, counting itself) up to SOS
// ---------------------------------------------------------------------------------------------------------------

/** The marker segments before the scan data (APPn, DQT, DHT, SOFn, DRI, COM...), type = marker as hex. */
function jpegSegments(jpeg: Buffer): Span[] {
  const segments: Span[] = [];
  let offset = 2;
  while (offset + 4 <= jpeg.length && jpeg[offset] === 0xff) {
    const marker = jpeg[offset + 1]!;
    // Fill bytes: FF FF ... FF xx.
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    const size = 2 + jpeg.readUInt16BE(offset + 2);
    if (offset + size > jpeg.length) break;
    segments.push({ offset, size, type: marker.toString(16) });
    // The scan's entropy-coded data follows SOS: no more length-prefixed segments to walk.
    if (marker === 0xda) break;
    offset += size;
  }
  return segments;
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): the segments that carry the frame's dimensions. */
const isSof = (marker: number) => marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);

/** Repeats one segment: two SOFs, two Huffman tables for one slot, an APP1 (EXIF) twice. */
export function duplicateJpegSegment(source: Buffer, rng: Rng): Mutant | undefined {
  const segment = pick(rng, jpegSegments(source));
  if (!segment) return undefined;
  return { bytes: duplicateSpan(source, segment), mutation: `duplicateJpegSegment(FF${segment.type} @${segment.offset})` };
}

/** Sets one segment's length to 0xffff: the next "segment" a parser reads is then whatever lies 64 KB further on. */
export function maxJpegSegmentLength(source: Buffer, rng: Rng): Mutant | undefined {
  const segment = pick(rng, jpegSegments(source));
  if (!segment) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt16BE(0xffff, segment.offset + 2);
  return { bytes, mutation: `maxJpegSegmentLength(FF${segment.type} @${segment.offset} -> 0xffff)` };
}

/**
 * Sets the frame's height and width (SOFn: FF Cn len(2) precision(1) height(2) width(2)) to `value` x `value`: 65535 by
 * default, the field's largest; libjpeg refuses more than 65500, so 65500 is what reaches our own pixel limit.
 */
export function maxJpegSofDimensions(value = 0xffff): Mutator {
  return (source) => {
    const sof = jpegSegments(source).find((segment) => isSof(parseInt(segment.type, 16)));
    if (!sof || sof.size < 9) return undefined;
    const bytes = Buffer.from(source);
    bytes.writeUInt16BE(value, sof.offset + 5);
    bytes.writeUInt16BE(value, sof.offset + 7);
    return { bytes, mutation: `maxJpegSofDimensions(FF${sof.type} @${sof.offset} -> ${value}x${value})` };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// GIF: header(6) logical screen(7) [global colour table], then blocks: 21 extensions, 2C images, 3B trailer
// ---------------------------------------------------------------------------------------------------------------

/** The blocks after the header: extensions (type `21xx`) and images (`2c`), each with its sub-blocks. */
function gifBlocks(gif: Buffer): Span[] {
  if (gif.length < 13) return [];
  const colourTable = (flags: number) => (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  // Sub-blocks: a length byte then that many bytes, until a zero length.
  const skipSubBlocks = (from: number) => {
    let offset = from;
    while (offset < gif.length && gif[offset] !== 0) offset += 1 + gif[offset]!;
    return offset + 1;
  };
  const blocks: Span[] = [];
  let offset = 13 + colourTable(gif[10]!);
  while (offset < gif.length) {
    const introducer = gif[offset];
    let end: number;
    if (introducer === 0x21 && offset + 2 <= gif.length) {
      end = skipSubBlocks(offset + 2);
      blocks.push({ offset, size: end - offset, type: `21${gif[offset + 1]!.toString(16)}` });
    } else if (introducer === 0x2c && offset + 10 <= gif.length) {
      // Descriptor(10) [local colour table] LZW code size(1) then the image data sub-blocks.
      end = skipSubBlocks(offset + 10 + colourTable(gif[offset + 9]!) + 1);
      blocks.push({ offset, size: end - offset, type: '2c' });
    } else {
      break;
    }
    if (end > gif.length) {
      blocks.pop();
      break;
    }
    offset = end;
  }
  return blocks;
}

/** Sets the logical screen (the canvas every frame is drawn on) to 65535x65535. */
export function maxGifScreen(source: Buffer): Mutant | undefined {
  if (source.length < 10) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt16LE(0xffff, 6);
  bytes.writeUInt16LE(0xffff, 8);
  return { bytes, mutation: 'maxGifScreen(logical screen -> 65535x65535)' };
}

/** Sets one frame's own width and height (image descriptor) to 65535x65535, past the canvas. */
export function maxGifFrameDimensions(source: Buffer, rng: Rng): Mutant | undefined {
  const frame = pick(rng, gifBlocks(source).filter((block) => block.type === '2c'));
  if (!frame) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt16LE(0xffff, frame.offset + 5);
  bytes.writeUInt16LE(0xffff, frame.offset + 7);
  return { bytes, mutation: `maxGifFrameDimensions(frame @${frame.offset} -> 65535x65535)` };
}

/** Repeats one block: a frame shown twice, a second graphic control or loop extension. */
export function duplicateGifBlock(source: Buffer, rng: Rng): Mutant | undefined {
  const block = pick(rng, gifBlocks(source));
  if (!block) return undefined;
  return { bytes: duplicateSpan(source, block), mutation: `duplicateGifBlock(${block.type} @${block.offset})` };
}

// ---------------------------------------------------------------------------------------------------------------
// WebP: RIFF size(4 LE) WEBP, then chunks fourcc(4) size(4 LE) data [pad to even]
// ---------------------------------------------------------------------------------------------------------------

function riffChunks(webp: Buffer): Span[] {
  const chunks: Span[] = [];
  for (let offset = 12; offset + 8 <= webp.length; ) {
    const length = webp.readUInt32LE(offset + 4);
    const size = 8 + length + (length % 2);
    if (offset + size > webp.length) break;
    chunks.push({ offset, size, type: webp.toString('latin1', offset, offset + 4) });
    offset += size;
  }
  return chunks;
}

/** Sets the RIFF header's size to 0xffffffff: the container claims 4 GB. */
export function maxRiffSize(source: Buffer): Mutant | undefined {
  if (source.length < 8) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt32LE(0xffffffff, 4);
  return { bytes, mutation: 'maxRiffSize(RIFF size -> 0xffffffff)' };
}

/** Sets one chunk's size (VP8, VP8X, ALPH, ANMF, EXIF...) to 0xffffffff. */
export function maxRiffChunkSize(source: Buffer, rng: Rng): Mutant | undefined {
  const chunk = pick(rng, riffChunks(source));
  if (!chunk) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt32LE(0xffffffff, chunk.offset + 4);
  return { bytes, mutation: `maxRiffChunkSize(${chunk.type} @${chunk.offset} -> 0xffffffff)` };
}

/** Repeats one chunk: two VP8X headers, an animation frame twice, a second bitstream. */
export function duplicateRiffChunk(source: Buffer, rng: Rng): Mutant | undefined {
  const chunk = pick(rng, riffChunks(source));
  if (!chunk) return undefined;
  const bytes = duplicateSpan(source, chunk);
  // The RIFF size is kept consistent, so the container itself still looks intact and the duplicate is what is judged.
  bytes.writeUInt32LE(bytes.length - 8, 4);
  return { bytes, mutation: `duplicateRiffChunk(${chunk.type} @${chunk.offset})` };
}

/**
 * Maxes the dimensions wherever this WebP keeps them: the VP8X canvas (24-bit, minus one: 16777216x16777216), a
 * lossy VP8 key frame (14-bit: 16383x16383) or a lossless VP8L header (14-bit, minus one: 16384x16384).
 */
export function maxWebpDimensions(source: Buffer): Mutant | undefined {
  const chunk = riffChunks(source).find((c) => ['VP8X', 'VP8 ', 'VP8L'].includes(c.type));
  if (!chunk) return undefined;
  const bytes = Buffer.from(source);
  const data = chunk.offset + 8;
  if (chunk.type === 'VP8X' && chunk.size >= 18) {
    bytes.writeUIntLE(0xffffff, data + 4, 3);
    bytes.writeUIntLE(0xffffff, data + 7, 3);
    return { bytes, mutation: `maxWebpDimensions(VP8X canvas @${chunk.offset} -> 16777216x16777216)` };
  }
  if (chunk.type === 'VP8 ' && chunk.size >= 18) {
    // Frame tag(3) start code(3) then width and height, 14 bits each with 2 bits of scaling above.
    bytes.writeUInt16LE(0x3fff, data + 6);
    bytes.writeUInt16LE(0x3fff, data + 8);
    return { bytes, mutation: `maxWebpDimensions(VP8 frame @${chunk.offset} -> 16383x16383)` };
  }
  if (chunk.type === 'VP8L' && chunk.size >= 13) {
    // Signature 0x2f, then width-1 (14 bits), height-1 (14 bits), alpha (1), version (3), little-endian bit order.
    const bits = bytes.readUInt32LE(data + 1);
    bytes.writeUInt32LE(((bits & 0xf0000000) | 0x0fffffff) >>> 0, data + 1);
    return { bytes, mutation: `maxWebpDimensions(VP8L header @${chunk.offset} -> 16384x16384)` };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// ISOBMFF (AVIF): boxes size(4 BE) type(4) [largesize(8)] payload; meta is a full box (version/flags first)
// ---------------------------------------------------------------------------------------------------------------

interface Box extends Span {
  /** The boxes this one sits in, outermost first: their sizes must grow when a child is duplicated. */
  parents: Box[];
}

/** Boxes whose payload is more boxes, and where those start within the payload (full boxes: 4 bytes of version). */
const BOX_CONTAINERS: Record<string, number> = { meta: 4, iprp: 0, ipco: 0, moov: 0, trak: 0, mdia: 0, minf: 0, stbl: 0 };

/** Top-level boxes and those nested in the containers above (ftyp, meta, hdlr, pitm, iloc, ispe, av1C, mdat...). */
function isobmffBoxes(file: Buffer, start = 0, end = file.length, parents: Box[] = []): Box[] {
  const boxes: Box[] = [];
  for (let offset = start; offset + 8 <= end; ) {
    const declared = file.readUInt32BE(offset);
    // 0 runs to the end of the file, 1 means a 64-bit size follows: neither is what these mutators aim at.
    if (declared < 8 || offset + declared > end) break;
    const box: Box = { offset, size: declared, type: file.toString('latin1', offset + 4, offset + 8), parents };
    boxes.push(box);
    const childrenAt = BOX_CONTAINERS[box.type];
    if (childrenAt !== undefined) {
      boxes.push(...isobmffBoxes(file, offset + 8 + childrenAt, offset + declared, [...parents, box]));
    }
    offset += declared;
  }
  return boxes;
}

/** Sets one box's size to 0xffffffff: a parser that trusts it reads 4 GB past the end of the file. */
export function maxIsobmffBoxSize(source: Buffer, rng: Rng): Mutant | undefined {
  const box = pick(rng, isobmffBoxes(source));
  if (!box) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt32BE(0xffffffff, box.offset);
  return { bytes, mutation: `maxIsobmffBoxSize(${box.type} @${box.offset} -> 0xffffffff)` };
}

/**
 * Repeats one box, with its parents' sizes grown to match so the tree still parses: two ftyp, two ispe for one item,
 * a second meta. (iloc's absolute offsets are left alone: shifted item data is part of the damage.)
 */
export function duplicateIsobmffBox(source: Buffer, rng: Rng): Mutant | undefined {
  const box = pick(rng, isobmffBoxes(source));
  if (!box) return undefined;
  const bytes = duplicateSpan(source, box);
  for (const parent of box.parents) bytes.writeUInt32BE(parent.size + box.size, parent.offset);
  return { bytes, mutation: `duplicateIsobmffBox(${box.type} @${box.offset})` };
}

/** Sets the image spatial extent (ispe: version/flags(4) width(4) height(4)) to 0xffffffff x 0xffffffff. */
export function maxAvifDimensions(source: Buffer): Mutant | undefined {
  const ispe = isobmffBoxes(source).find((box) => box.type === 'ispe');
  if (!ispe || ispe.size < 20) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt32BE(0xffffffff, ispe.offset + 12);
  bytes.writeUInt32BE(0xffffffff, ispe.offset + 16);
  return { bytes, mutation: `maxAvifDimensions(ispe @${ispe.offset} -> 0xffffffff x 0xffffffff)` };
}

// ---------------------------------------------------------------------------------------------------------------
// TIFF: II*\0 or MM\0*, IFD0 offset(4); an IFD is count(2) then 12-byte entries: tag(2) type(2) count(4) value(4)
// ---------------------------------------------------------------------------------------------------------------

interface Tiff {
  littleEndian: boolean;
  ifd: number;
  entries: number;
}

function readTiff(file: Buffer): Tiff | undefined {
  if (file.length < 8) return undefined;
  const littleEndian = file[0] === 0x49;
  const ifd = littleEndian ? file.readUInt32LE(4) : file.readUInt32BE(4);
  if (ifd + 2 > file.length) return undefined;
  const entries = littleEndian ? file.readUInt16LE(ifd) : file.readUInt16BE(ifd);
  return { littleEndian, ifd, entries };
}

/** Sets IFD0's entry count to 0xffff: 786 KB of entries claimed in a file far smaller. */
export function maxTiffIfdCount(source: Buffer): Mutant | undefined {
  const tiff = readTiff(source);
  if (!tiff) return undefined;
  const bytes = Buffer.from(source);
  if (tiff.littleEndian) bytes.writeUInt16LE(0xffff, tiff.ifd);
  else bytes.writeUInt16BE(0xffff, tiff.ifd);
  return { bytes, mutation: `maxTiffIfdCount(IFD0 @${tiff.ifd}: ${tiff.entries} -> 0xffff)` };
}

/** Points the header's IFD0 offset at 0xffffffff, far past the end. */
export function maxTiffIfdOffset(source: Buffer): Mutant | undefined {
  if (!readTiff(source)) return undefined;
  const bytes = Buffer.from(source);
  bytes.writeUInt32LE(0xffffffff, 4);
  return { bytes, mutation: 'maxTiffIfdOffset(IFD0 offset -> 0xffffffff)' };
}

/** Sets ImageWidth (256) and ImageLength (257) to the largest their type holds (SHORT 65535, LONG 0xffffffff). */
export function maxTiffDimensions(source: Buffer): Mutant | undefined {
  const tiff = readTiff(source);
  if (!tiff) return undefined;
  const bytes = Buffer.from(source);
  const u16 = (at: number) => (tiff.littleEndian ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const changed: string[] = [];
  for (let i = 0; i < tiff.entries; i += 1) {
    const entry = tiff.ifd + 2 + 12 * i;
    if (entry + 12 > bytes.length) break;
    const tag = u16(entry);
    if (tag !== 256 && tag !== 257) continue;
    const type = u16(entry + 2);
    // A SHORT value sits in the first two bytes of the value field, a LONG fills it.
    if (type === 3 && tiff.littleEndian) bytes.writeUInt16LE(0xffff, entry + 8);
    else if (type === 3) bytes.writeUInt16BE(0xffff, entry + 8);
    else if (tiff.littleEndian) bytes.writeUInt32LE(0xffffffff, entry + 8);
    else bytes.writeUInt32BE(0xffffffff, entry + 8);
    changed.push(`${tag === 256 ? 'width' : 'length'}(${type === 3 ? 'SHORT' : 'LONG'})`);
  }
  if (changed.length === 0) return undefined;
  return { bytes, mutation: `maxTiffDimensions(${changed.join(', ')} -> max)` };
}

// ---------------------------------------------------------------------------------------------------------------

/** A copy of the file with `span` repeated right after itself. */
function duplicateSpan(source: Buffer, span: Span): Buffer {
  const end = span.offset + span.size;
  return Buffer.concat([source.subarray(0, end), source.subarray(span.offset, end), source.subarray(end)]);
}
