import { stripJpegSegments } from '../src/jpeg-strip';

/** A minimal EXIF APP1 holding only an Orientation tag (little-endian TIFF, one IFD0 entry). */
function orientationApp1(orientation: number): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(1, 8); // one entry
  tiff.writeUInt16LE(0x0112, 10); // Orientation
  tiff.writeUInt16LE(3, 12); // SHORT
  tiff.writeUInt32LE(1, 14);
  tiff.writeUInt16LE(orientation, 18);
  tiff.writeUInt32LE(0, 22); // no next IFD
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

/** The JPEG's pixels, ICC and Adobe segments, with its metadata replaced by just an EXIF Orientation. */
export function withOrientation(jpeg: Buffer, orientation: number): Buffer {
  const clean = stripJpegSegments(jpeg);
  return Buffer.concat([clean.subarray(0, 2), orientationApp1(orientation), clean.subarray(2)]);
}
