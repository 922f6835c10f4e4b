import type { S3Config } from '@renditions/config';
import type { S3TestServer } from '../../../test/support/s3';
import type { ListedObject } from '../src/index';

export const OCTETS = { contentType: 'application/octet-stream' };
export const BYTES = Buffer.from('0123456789abcdefghij');

/** Credentials and region of `server`, for `bucket`, optionally at another endpoint (a dead one). */
export function s3ConfigFor(server: S3TestServer, bucket: string, endpoint = server.endpoint): S3Config {
  return {
    endpoint,
    bucket,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    forcePathStyle: true,
  };
}

/** Everything a listing yields; the order is unspecified, so sorted by key. */
export async function listAll(listing: AsyncIterable<ListedObject>): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  for await (const object of listing) objects.push(object);
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export async function keysOf(listing: AsyncIterable<ListedObject>): Promise<string[]> {
  return (await listAll(listing)).map(({ key }) => key);
}
