import type { S3TestServer } from './s3';

export interface ObjectWrites {
  /** Writes per object key so far. */
  counts(): Map<string, number>;
  stop(): void;
}

/**
 * Counts the object writes the S3 test server receives for one bucket, per key: a PutObject (or a CopyObject, also
 * a PUT), or a CompleteMultipartUpload; the parts of a multipart upload are not writes of their own. Whoever sends
 * them (an API or a worker in another process) is seen, as they all reach the server over HTTP.
 */
export function watchObjectWrites(s3: S3TestServer, bucket: string): ObjectWrites {
  const counts = new Map<string, number>();
  const stop = s3.watchRequests(({ method, url }) => {
    const { pathname, searchParams } = new URL(url, 'http://s3');
    const prefix = `/${bucket}/`;
    if (!pathname.startsWith(prefix) || pathname === prefix) return;
    const isWrite = (method === 'PUT' && !searchParams.has('partNumber')) || (method === 'POST' && searchParams.has('uploadId'));
    if (!isWrite) return;
    const key = decodeURIComponent(pathname.slice(prefix.length));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  return { counts: () => new Map(counts), stop };
}
