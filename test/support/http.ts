import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageResource, UploadedImage } from '@renditions/pipeline';

/** The upload's 201 body: the image resource plus its delete token. */
export type UploadResponse = UploadedImage;

export async function upload(
  baseUrl: string,
  file: Buffer,
  options: { filename?: string; type?: string; fields?: Record<string, string>; field?: string } = {},
): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(options.fields ?? {})) form.append(name, value);
  form.append(options.field ?? 'image', new Blob([file], { type: options.type ?? 'application/octet-stream' }), options.filename ?? 'upload.bin');
  return fetch(`${baseUrl}/api/v1/images`, { method: 'POST', body: form });
}

export async function getImage(baseUrl: string, id: string): Promise<ImageResource> {
  const response = await fetch(`${baseUrl}/api/v1/images/${id}`);
  if (!response.ok) throw new Error(`GET image ${id}: ${response.status}`);
  return (await response.json()) as ImageResource;
}

/** Polls the public API, as a client would, until the image satisfies `done` or the time runs out. */
export async function waitForImage(
  baseUrl: string,
  id: string,
  done: (image: ImageResource) => boolean = (image) => image.status !== 'processing',
  timeoutMs = 60_000,
): Promise<ImageResource> {
  const deadline = Date.now() + timeoutMs;
  let image = await getImage(baseUrl, id);
  while (!done(image)) {
    if (Date.now() > deadline) throw new Error(`image ${id} did not settle in time: ${JSON.stringify(image)}`);
    await sleep(200);
    image = await getImage(baseUrl, id);
  }
  return image;
}

/** Fetches a URL and reads the whole body. */
export async function fetchBytes(url: string, init?: RequestInit): Promise<{ response: Response; body: Buffer }> {
  const response = await fetch(url, init);
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}
