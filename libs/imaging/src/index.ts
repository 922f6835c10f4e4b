export * from './types';
export { SNIFF_BYTES, sniffImageType } from './sniff';
export { probeImage, type ProbeOptions } from './probe';
export { SIZE_BOXES, boxSize, planRenditions, renditionMime } from './plan';
export { AVIF_OPTIONS, JPEG_BACKGROUND, JPEG_OPTIONS, WEBP_OPTIONS } from './encoders';
export { renderRenditions, type RenderOptions } from './render';
export { stripMetadata } from './strip';
export { stripJpegSegments } from './jpeg-strip';
export { computePhash, hammingDistance, phashFromHex, phashToHex } from './phash';
