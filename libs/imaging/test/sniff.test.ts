import { describe, expect, it } from 'vitest';
import { SNIFF_BYTES, sniffImageType } from '../src/sniff';
import { readCorpus } from './corpus';

const head = (file: string) => readCorpus(file).subarray(0, SNIFF_BYTES);

describe('sniffImageType', () => {
  it.each([
    ['photos/DSCN0010.jpg', 'jpeg', 'image/jpeg', 'jpg'],
    ['formats/32-lens_data.jpeg', 'jpeg', 'image/jpeg', 'jpg'],
    ['kodak/kodim01.png', 'png', 'image/png', 'png'],
    ['formats/hopper.gif', 'gif', 'image/gif', 'gif'],
    ['formats/rotating-squares.gif', 'gif', 'image/gif', 'gif'],
    ['formats/4.webp', 'webp', 'image/webp', 'webp'],
    ['formats/rotating-squares.webp', 'webp', 'image/webp', 'webp'],
    ['formats/avif-orientation-6.avif', 'avif', 'image/avif', 'avif'],
    ['formats/tiff_adobe_deflate.tif', 'tiff', 'image/tiff', 'tif'],
  ])('recognises %s as %s', async (file, format, mime, ext) => {
    expect(await sniffImageType(head(file))).toEqual({ format, mime, ext });
  });

  it.each(['bad/SVG-alert.svg', 'bad/html_page.jpg', 'formats/IMG_5195.HEIC', 'bad/empty.jpg'])(
    'refuses %s whatever its name says',
    async (file) => {
      expect(await sniffImageType(head(file))).toBeNull();
    },
  );

  it('refuses plain text and an SVG saved with a .png name', async () => {
    expect(await sniffImageType(Buffer.from('hello, this is text\n'))).toBeNull();
    expect(await sniffImageType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))).toBeNull();
  });

  it('reports a PNG signature followed by garbage as PNG, so the decoder can call it invalid (not unsupported)', async () => {
    expect(await sniffImageType(head('bad/broken.png'))).toMatchObject({ format: 'png' });
  });

  it('reads only the head it is given', async () => {
    const bytes = readCorpus('photos/42_IndexError.jpg');
    expect(await sniffImageType(bytes.subarray(0, SNIFF_BYTES))).toMatchObject({ format: 'jpeg' });
    expect(SNIFF_BYTES).toBe(4100);
  });
});
