import { describe, expect, it } from 'vitest';
import { ByteReader, READ_WINDOW_BYTES } from '../src/byte-reader';
import { ContainerLimitError, MalformedContainerError } from '../src/container-errors';
import { MAX_PNG_CHUNKS, verifyPngChunks } from '../src/png-chunks';
import { corpusPath, readCorpus } from './corpus';
import { AFTER_IHDR, idatBombPng, pngChunk as chunk, smallPng } from './png-builders';

describe('verifyPngChunks', () => {
  it.each(['kodak/kodim01.png', 'formats/with-alpha.png', 'formats/tbgn2c16.png', 'formats/blackbug.png'])(
    'accepts intact %s',
    async (file) => {
      await expect(verifyPngChunks(readCorpus(file))).resolves.toBeUndefined();
    },
  );

  it('rejects the IDAT CRC error of PngSuite xcsn0g01, naming both CRCs', async () => {
    await expect(verifyPngChunks(readCorpus('bad/xcsn0g01.png'))).rejects.toThrow(/IDAT.*CRC 0x[0-9a-f]{8}.*gives 0x[0-9a-f]{8}/);
  });

  it('rejects a chunk that runs past the end of the file (truncated, or a huge declared length)', async () => {
    await expect(verifyPngChunks(readCorpus('bad/truncated.png'))).rejects.toThrow(/IDAT.*declares 32768 bytes/);
    await expect(verifyPngChunks(readCorpus('bad/huge_eXIf_chunk.png'))).rejects.toThrow(/eXIf.*declares/);
  });

  it('rejects a missing signature', async () => {
    await expect(verifyPngChunks(Buffer.from('GIF89a....'))).rejects.toThrow(MalformedContainerError);
    await expect(verifyPngChunks(Buffer.from('GIF89a....'))).rejects.toThrow(/PNG signature/);
  });

  it('ignores CRC errors in ancillary chunks, as libpng and browsers do', async () => {
    const png = readCorpus('formats/with-alpha.png');
    const bad = Buffer.concat([png.subarray(0, AFTER_IHDR), chunk('tEXt', Buffer.from('a\0b'), 0xdeadbeef), png.subarray(AFTER_IHDR)]);
    await expect(verifyPngChunks(bad)).resolves.toBeUndefined();
  });

  it('checks a CRC whose chunk spans many read windows, and finds a flipped bit in any of them', async () => {
    const png = await smallPng();
    const big = Buffer.alloc(3 * READ_WINDOW_BYTES + 123, 7);
    const withBig = Buffer.concat([png.subarray(0, AFTER_IHDR), chunk('zzZz', big), chunk('IDAT', big), png.subarray(AFTER_IHDR)]);
    await expect(verifyPngChunks(withBig)).resolves.toBeUndefined();
    const idatData = AFTER_IHDR + 12 + big.length + 8;
    for (const at of [0, READ_WINDOW_BYTES - 1, READ_WINDOW_BYTES, 2 * READ_WINDOW_BYTES + 5, big.length - 1]) {
      const flipped = Buffer.from(withBig);
      flipped[idatData + at]! ^= 0x01;
      await expect(verifyPngChunks(flipped)).rejects.toThrow(/chunk "IDAT" at offset \d+ has CRC/);
    }
  });

  it('reads a file through the reader with the same verdicts as its bytes', async () => {
    for (const file of ['kodak/kodim01.png', 'bad/xcsn0g01.png', 'bad/truncated.png', 'bad/huge_eXIf_chunk.png', 'bad/broken.png']) {
      const fromBytes = await verifyPngChunks(readCorpus(file)).then(() => 'ok', (error: Error) => error.message);
      const reader = await ByteReader.openFile(corpusPath(file));
      const fromFile = await verifyPngChunks(reader).then(() => 'ok', (error: Error) => error.message).finally(() => reader.close());
      expect(fromFile, file).toBe(fromBytes);
    }
  });

  it(`accepts ${MAX_PNG_CHUNKS} chunks and refuses one more (an empty-IDAT bomb)`, async () => {
    const chunksOfSmallPng = 4; // IHDR, pHYs, IDAT, IEND
    await expect(verifyPngChunks(await idatBombPng(MAX_PNG_CHUNKS - chunksOfSmallPng))).resolves.toBeUndefined();
    const bomb = await idatBombPng(MAX_PNG_CHUNKS - chunksOfSmallPng + 1);
    await expect(verifyPngChunks(bomb)).rejects.toThrow(ContainerLimitError);
    await expect(verifyPngChunks(bomb)).rejects.toThrow(/too many chunks: expected at most 100000; chunk 100001 starts at offset/);
  });
});
