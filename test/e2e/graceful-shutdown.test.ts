import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/context';
import { readCorpus } from '../support/corpus';

describe('graceful shutdown of the API', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ worker: false });
  });
  afterAll(async () => ctx?.stop());

  it('finishes an upload already in flight, then refuses new connections', async () => {
    const boundary = 'shutdown-test-boundary';
    const photo = readCorpus('photos/nikon-e950.jpg');
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const body = Buffer.concat([head, photo, tail]);
    const { port } = new URL(ctx.url);

    let stopped: Promise<void> | undefined;
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/images',
          headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': body.length },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      // Send half the upload, start the shutdown, then send the rest.
      req.write(body.subarray(0, body.length / 2), () => {
        stopped = ctx.api.stop();
        setTimeout(() => req.end(body.subarray(body.length / 2)), 300);
      });
    });

    const result = await answered;
    expect(result.status).toBe(201);
    expect(JSON.parse(result.body)).toMatchObject({ status: 'processing', bytes: photo.length });
    await stopped;
    await expect(fetch(`${ctx.url}/healthz`)).rejects.toThrow();
  });
});
