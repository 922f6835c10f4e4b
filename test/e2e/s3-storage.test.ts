import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImage } from '@renditions/pipeline';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';
import { upload, waitForImage, type UploadResponse } from '../support/http';
import { startS3Server, type S3TestServer } from '../support/s3';

describe('upload to renditions on the S3 driver (real S3-protocol server, real AWS SDK)', () => {
  let s3: S3TestServer;
  let bucket: string;
  let ctx: TestContext;
  let client: S3Client;
  beforeAll(async () => {
    s3 = await startS3Server();
    bucket = await s3.createBucket();
    ctx = await createTestContext({
      env: {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_BUCKET: bucket,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
        S3_FORCE_PATH_STYLE: 'true',
      },
    });
    client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await ctx?.stop();
    await s3?.stop();
  });

  async function listKeys(): Promise<string[]> {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (listed.Contents ?? []).map((object) => object.Key!).sort();
  }

  it('stores the original in the bucket before answering, then every rendition', async () => {
    const photo = readCorpus('photos/nikon-e950.jpg');
    const response = await upload(ctx.url, photo);
    expect(response.status).toBe(201);
    const created = (await response.json()) as UploadResponse;
    const { asset } = await loadImage(ctx.services, created.id);
    const original = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `assets/${asset.id}/original` }));
    expect(Buffer.from(await original.Body!.transformToByteArray()).equals(photo)).toBe(true);

    const ready = await waitForImage(ctx.url, created.id);
    expect(ready.status).toBe('ready');
    const keys = await listKeys();
    expect(keys.filter((key) => /^assets\/[^/]+\/[sbtmlh]\.(webp|avif|jpg)$/.test(key))).toHaveLength(18);
    expect(keys).toContain(`assets/${asset.id}/stripped.jpg`);

    const h = ready.renditions.find((r) => r.size === 'h' && r.format === 'avif')!;
    const served = Buffer.from(await (await fetch(h.url)).arrayBuffer());
    const meta = await sharp(served).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['heif', h.width, h.height]);

    const ranged = await fetch(h.url, { headers: { Range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(served.subarray(0, 100))).toBe(true);

    const deleted = await fetch(`${ctx.url}/api/v1/images/${created.id}`, {
      method: 'DELETE',
      headers: { 'X-Delete-Token': created.delete_token },
    });
    expect(deleted.status).toBe(204);
    // Durable cleanup work removes the generation's prefix right after the 204.
    await expect.poll(listKeys, { timeout: 15_000, interval: 200 }).toEqual([]);
  });

  it('reports storage unready and answers uploads 503 with Retry-After when S3 is down', async () => {
    const countLive = async () =>
      (await ctx.services.db.execute<{ n: number }>('select count(*)::int as n from images where deleted_at is null' as never))[0]?.n;
    const before = await countLive();
    await s3.stop();
    const readiness = await fetch(`${ctx.url}/readyz`);
    expect(readiness.status).toBe(503);
    const response = await upload(ctx.url, readCorpus('photos/Canon_40D.jpg'));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBeTruthy();
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
    expect(await countLive()).toBe(before);
  });
});
