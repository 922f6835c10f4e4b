import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { verifyPngChunks } from '../src/png-chunks';
import { readCorpus } from './corpus';

function chunk(type: string, data: Buffer, crc?: number): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc ?? crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

describe('verifyPngChunks', () => {
  it.each(['kodak/kodim01.png', 'formats/with-alpha.png', 'formats/tbgn2c16.png', 'formats/blackbug.png'])(
    'accepts intact %s',
    (file) => {
      expect(() => verifyPngChunks(readCorpus(file))).not.toThrow();
    },
  );

  it('rejects the IDAT CRC error of PngSuite xcsn0g01, naming both CRCs', () => {
    expect(() => verifyPngChunks(readCorpus('bad/xcsn0g01.png'))).toThrow(/IDAT.*CRC 0x[0-9a-f]{8}.*gives 0x[0-9a-f]{8}/);
  });

  it('rejects a chunk that runs past the end of the file (truncated, or a huge declared length)', () => {
    expect(() => verifyPngChunks(readCorpus('bad/truncated.png'))).toThrow(/IDAT.*declares 32768 bytes/);
    expect(() => verifyPngChunks(readCorpus('bad/huge_eXIf_chunk.png'))).toThrow(/eXIf.*declares/);
  });

  it('rejects a missing signature', () => {
    expect(() => verifyPngChunks(Buffer.from('GIF89a....'))).toThrow(/PNG signature/);
  });

  it('ignores CRC errors in ancillary chunks, as libpng and browsers do', () => {
    const png = readCorpus('formats/with-alpha.png');
    const ihdrEnd = 8 + 25;
    const bad = Buffer.concat([png.subarray(0, ihdrEnd), chunk('tEXt', Buffer.from('a\0b'), 0xdeadbeef), png.subarray(ihdrEnd)]);
    expect(() => verifyPngChunks(bad)).not.toThrow();
  });
});
