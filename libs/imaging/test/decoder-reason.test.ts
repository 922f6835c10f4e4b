import { describe, expect, it } from 'vitest';
import { decoderReason } from '../src/decode';

describe('decoderReason', () => {
  it('keeps the first line of a libvips error', () => {
    expect(decoderReason(new Error('VipsJpeg: Premature end of input file\nvips2png: unable to write'))).toBe(
      'VipsJpeg: Premature end of input file',
    );
  });

  it('never shows a client the server file path libvips names', () => {
    expect(decoderReason(new Error('/tmp/x/renditions-uploads/upload-0687ab80: bad seek to 17214'))).toBe('bad seek to 17214');
    expect(decoderReason(new Error('Input file has corrupt header: /tmp/a/upload-1: VipsJpeg: Premature end'))).toBe(
      'Input file has corrupt header: VipsJpeg: Premature end',
    );
  });
});
