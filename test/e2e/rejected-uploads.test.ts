import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, expectNothingLeftBehind, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload } from '../support/http';

/** Every file of the corpus's bad/ folder, with the answer the contract gives it. */
const BAD_FILES: [file: string, status: number, code: string][] = [
  ['bad/65536-uint32-limit.png', 422, 'too_many_pixels'],
  ['bad/SVG-alert.svg', 415, 'unsupported_type'],
  ['bad/broken.png', 422, 'invalid_image'],
  ['bad/corrupt-header.jpg', 422, 'invalid_image'],
  ['bad/empty.jpg', 400, 'missing_file'],
  ['bad/giant-image.jpg', 422, 'too_many_pixels'],
  ['bad/html_page.jpg', 415, 'unsupported_type'],
  ['bad/huge_eXIf_chunk.png', 422, 'invalid_image'],
  ['bad/invalid_multiframe.gif', 422, 'invalid_image'],
  ['bad/truncated.jpg', 422, 'invalid_image'],
  ['bad/truncated.png', 422, 'invalid_image'],
  ['bad/xcsn0g01.png', 422, 'invalid_image'],
];

describe('rejected uploads', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ env: { MAX_UPLOAD_BYTES: String(3 * 1024 * 1024) } });
  });
  afterAll(async () => ctx?.stop());

  it.each(BAD_FILES)('%s gets %i %s and leaves nothing behind', async (file, status, code) => {
    const response = await upload(ctx.url, readCorpus(file), { filename: 'photo.jpg', type: 'image/jpeg' });
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toEqual(expect.any(String));
    await expectNothingLeftBehind(ctx);
  });

  it('refuses a file over MAX_UPLOAD_BYTES with 413', async () => {
    const response = await upload(ctx.url, readCorpus('photos/HMD_Nokia_8.3_5G.jpg').subarray(0, 1_500_000));
    expect(response.status).toBe(422);
    const tooLarge = await upload(ctx.url, Buffer.concat([readCorpus('photos/42_IndexError.jpg'), Buffer.alloc(1_000_000)]));
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: { code: 'file_too_large' } });
    await expectNothingLeftBehind(ctx);
  });

  it('answers missing_file without a file and invalid_request for bad fields', async () => {
    const form = new FormData();
    form.append('title', 'no file');
    const noFile = await fetch(`${ctx.url}/api/v1/images`, { method: 'POST', body: form });
    expect(noFile.status).toBe(400);
    expect(await noFile.json()).toMatchObject({ error: { code: 'missing_file' } });

    const notMultipart = await fetch(`${ctx.url}/api/v1/images`, { method: 'POST', body: 'hello' });
    expect(notMultipart.status).toBe(400);

    const photo = readCorpus('photos/Canon_40D.jpg');
    for (const callback of ['ftp://example.com/hook', 'not a url', 'javascript:alert(1)']) {
      const response = await upload(ctx.url, photo, { fields: { callback_url: callback } });
      expect(response.status, callback).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } });
    }
    const wrongField = await upload(ctx.url, photo, { field: 'file' });
    expect(wrongField.status).toBe(400);
    await expectNothingLeftBehind(ctx);
  });
});
