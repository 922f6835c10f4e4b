import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';

const BASIC = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;

async function getMetadata(ctx: TestContext, id: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${ctx.url}/api/v1/images/${id}/metadata`, { headers });
  return { response, body: (await response.json()) as Record<string, unknown> };
}

describe('GET /api/v1/images/:id/metadata: the private EXIF summary', () => {
  let ctx: TestContext;
  let photo: UploadResponse;
  beforeAll(async () => {
    // No worker at first: the metadata is read by the strip stage, not at upload.
    ctx = await createTestContext({ worker: false });
    photo = (await (await upload(ctx.url, readCorpus('photos/DSCN0010.jpg'))).json()) as UploadResponse;
  });
  afterAll(async () => ctx?.stop());

  it('is null until the strip stage has read the original', async () => {
    const { response, body } = await getMetadata(ctx, photo.id, { 'X-Delete-Token': photo.delete_token });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(body).toEqual({ id: photo.id, metadata: null });
  });

  it('shows camera, capture time, GPS and exposure to the uploader once processed', async () => {
    ctx.startWorker();
    await waitForImage(ctx.url, photo.id);
    const { response, body } = await getMetadata(ctx, photo.id, { 'X-Delete-Token': photo.delete_token });
    expect(response.status).toBe(200);
    expect(body).toEqual({
      id: photo.id,
      metadata: {
        camera_make: 'NIKON',
        camera_model: 'COOLPIX P6000',
        lens_make: null,
        lens_model: null,
        taken_at: '2008-10-22T16:28:39',
        gps: { latitude: expect.closeTo(43.4674, 4), longitude: expect.closeTo(11.8851, 4), altitude: null },
        orientation: 1,
        exposure: { iso: 64, f_number: 5.9, exposure_time: expect.closeTo(1 / 75, 6), focal_length: 24 },
      },
    });
  });

  it('shows it to an admin too', async () => {
    const { response, body } = await getMetadata(ctx, photo.id, { Authorization: BASIC });
    expect(response.status).toBe(200);
    expect(body.metadata).toMatchObject({ camera_model: 'COOLPIX P6000' });
  });

  it('is 403 without the delete token, with a wrong one, or with a wrong admin password', async () => {
    const wrongAdmin = `Basic ${Buffer.from(`${ADMIN.user}:nope`).toString('base64')}`;
    const attempts: Record<string, string>[] = [{}, { 'X-Delete-Token': 'not-the-token' }, { Authorization: wrongAdmin }];
    for (const headers of attempts) {
      const { response, body } = await getMetadata(ctx, photo.id, headers);
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(body).toMatchObject({ error: { code: 'forbidden' } });
      expect(JSON.stringify(body)).not.toMatch(/COOLPIX|43\.46/);
    }
  });

  it('a token of another upload of the same bytes opens only its own image', async () => {
    const twin = (await (await upload(ctx.url, readCorpus('photos/DSCN0010.jpg'))).json()) as UploadResponse;
    expect((await getMetadata(ctx, photo.id, { 'X-Delete-Token': twin.delete_token })).response.status).toBe(403);
    const own = await getMetadata(ctx, twin.id, { 'X-Delete-Token': twin.delete_token });
    expect(own.body.metadata).toMatchObject({ camera_model: 'COOLPIX P6000' });
  });

  it('never appears in the image resource', async () => {
    const resource = await (await fetch(`${ctx.url}/api/v1/images/${photo.id}`)).text();
    expect(resource).not.toMatch(/metadata|COOLPIX|NIKON|latitude|43\.46|2008-10-22/);
    expect(JSON.stringify(photo)).not.toMatch(/metadata|COOLPIX|NIKON|latitude|43\.46|2008-10-22/);
  });

  it('is 404 for an unknown id and 410 once deleted', async () => {
    const unknown = await getMetadata(ctx, 'nope123', { Authorization: BASIC });
    expect(unknown.response.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'not_found' } });

    const doomed = (await (await upload(ctx.url, readCorpus('photos/Canon_40D.jpg'))).json()) as UploadResponse;
    const deleted = await fetch(`${ctx.url}/api/v1/images/${doomed.id}`, {
      method: 'DELETE',
      headers: { 'X-Delete-Token': doomed.delete_token },
    });
    expect(deleted.status).toBe(204);
    const gone = await getMetadata(ctx, doomed.id, { 'X-Delete-Token': doomed.delete_token });
    expect(gone.response.status).toBe(410);
    expect(gone.body).toMatchObject({ error: { code: 'gone' } });
  });

  it('is all null for a file without EXIF', async () => {
    const scan = (await (await upload(ctx.url, readCorpus('kodak/kodim03.png'))).json()) as UploadResponse;
    await waitForImage(ctx.url, scan.id);
    const { body } = await getMetadata(ctx, scan.id, { 'X-Delete-Token': scan.delete_token });
    expect(body.metadata).toEqual({
      camera_make: null, camera_model: null, lens_make: null, lens_model: null,
      taken_at: null, gps: null, orientation: null, exposure: null,
    });
  });
});
