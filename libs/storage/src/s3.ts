import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
  type GetObjectCommandOutput,
  type ListMultipartUploadsCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Config } from '@renditions/config';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { DEFAULT_TIMEOUT_MS, PING_TIMEOUT_MS, withDeadline, type DeadlineOptions } from './deadline';
import { ObjectNotFoundError, StorageUnavailableError } from './errors';
import { assertDeletablePrefix } from './prefix';
import type { ByteRange, ListedObject, ObjectInfo, ObjectStorage, PutOptions } from './types';

/** Socket-level failures that mean "the endpoint is down or unreachable", as opposed to a bad request. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export class S3Storage implements ObjectStorage {
  readonly driver = 's3';
  // Nothing can be moved into a bucket: any local folder does, and this one never holds objects.
  readonly spoolDirectory = path.join(os.tmpdir(), 'renditions-uploads');
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly timeoutMs: number;

  constructor(config: S3Config, options: DeadlineOptions = {}) {
    this.bucket = config.bucket;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      credentials:
        config.accessKeyId && config.secretAccessKey
          ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
          : undefined,
      // Recent SDKs send CRC checksums by default, which S3-compatible servers (MinIO, s3rver) may reject.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Without these a down endpoint hangs requests for minutes; readiness and the API must answer 503 promptly.
      // socketTimeout is an idle timeout, so long downloads to slow clients keep working.
      requestHandler: { connectionTimeout: 2_000, socketTimeout: 30_000 },
    });
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions): Promise<void> {
    await this.request('put', key, async (signal) => {
      // Upload switches to multipart above 5 MB and aborts it on failure, so no partial object is ever visible.
      const upload = new Upload({
        client: clientBoundTo(this.client, signal),
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          ContentLength: options.contentLength,
        },
      });
      // Stops it from sending further parts, and from completing an upload the caller was told had failed.
      signal.addEventListener('abort', () => void upload.abort(), { once: true });
      await upload.done();
    });
  }

  async putFile(key: string, file: string, options: PutOptions): Promise<void> {
    // Opened first, so a missing file is a rejected call rather than an error event on a stream nobody reads yet.
    const handle = await open(file, 'r');
    const body = handle.createReadStream();
    try {
      await this.put(key, body, { ...options, contentLength: options.contentLength ?? (await handle.stat()).size });
    } finally {
      // An upload that failed or ran out of time may not have read the file to its end: its handle closes here.
      body.destroy();
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const response = await this.request('get', key, (abortSignal) =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal },
      ),
    );
    return bodyOf(response, key);
  }

  async getBuffer(key: string): Promise<Buffer> {
    // Unlike get, the deadline covers reading the whole body: the caller waits for all of it.
    return this.request('getBuffer', key, async (abortSignal) =>
      buffer(bodyOf(await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }), key)),
    );
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const response = await this.request('head', key, (abortSignal) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
      );
      return { size: response.ContentLength ?? 0 };
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.request('delete', key, (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
    );
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    for await (const page of this.pages(prefix, 'list')) yield* page;
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertDeletablePrefix(prefix);
    let deleted = 0;
    // A listing page holds at most 1000 keys, which is DeleteObjects' limit: one page, one batch.
    for await (const page of this.pages(prefix, 'deletePrefix')) {
      if (page.length === 0) continue;
      const result = await this.request('deletePrefix', prefix, (abortSignal) =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: page.map(({ key }) => ({ Key: key })), Quiet: true },
          }),
          { abortSignal },
        ),
      );
      const [firstFailure] = result.Errors ?? [];
      if (firstFailure) {
        // Deleting is idempotent: a retry picks up whatever is left.
        throw new StorageUnavailableError(
          `S3 did not delete ${result.Errors?.length} of ${page.length} objects under "${prefix}", ` +
            `e.g. "${firstFailure.Key}": ${firstFailure.Code} ${firstFailure.Message}`,
        );
      }
      deleted += page.length;
    }
    return deleted;
  }

  async abortIncompleteUploads(olderThan: Date): Promise<number> {
    let aborted = 0;
    let page: ListMultipartUploadsCommandOutput | undefined;
    do {
      const { NextKeyMarker: KeyMarker, NextUploadIdMarker: UploadIdMarker } = page ?? {};
      try {
        page = await this.request('abortIncompleteUploads', undefined, (abortSignal) =>
          this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, KeyMarker, UploadIdMarker }), {
            abortSignal,
          }),
        );
      } catch (error) {
        // s3rver, our test double, answers NotImplemented (it cannot list or abort multipart uploads, only
        // complete them). Nothing to report there; a real S3 lists them.
        if (error instanceof S3ServiceException && error.name === 'NotImplemented') return aborted;
        throw error;
      }
      for (const { Key, UploadId, Initiated } of page.Uploads ?? []) {
        if (!Key || !UploadId || !Initiated || Initiated >= olderThan) continue;
        if (await this.abortUpload(Key, UploadId)) aborted += 1;
      }
    } while (page.IsTruncated);
    return aborted;
  }

  async ping(): Promise<void> {
    await withDeadline(Math.min(this.timeoutMs, PING_TIMEOUT_MS), 'ping', undefined, async (abortSignal) => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal });
      } catch (error) {
        // A readiness probe cares whether we can serve, not why: a missing bucket or bad credentials is also "not ready".
        throw new StorageUnavailableError(`S3 bucket "${this.bucket}" is not reachable: ${describe(error)}`, undefined, {
          cause: error,
        });
      }
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** One listing page per request, each under its own deadline, named after the `operation` it serves. */
  private async *pages(prefix: string, operation: string): AsyncGenerator<ListedObject[]> {
    let continuationToken: string | undefined;
    do {
      const page = await this.request(operation, prefix, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: continuationToken }),
          { abortSignal },
        ),
      );
      yield (page.Contents ?? []).map((object) => ({
        key: object.Key ?? '',
        size: object.Size ?? 0,
        lastModified: object.LastModified ?? new Date(0),
      }));
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  /** False when the upload was already gone (completed or aborted by someone else). */
  private async abortUpload(key: string, uploadId: string): Promise<boolean> {
    try {
      await this.request('abortIncompleteUploads', key, (abortSignal) =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), {
          abortSignal,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof S3ServiceException && error.name === 'NoSuchUpload') return false;
      throw error;
    }
  }

  /** Runs one SDK call under the deadline, translating its failures into the product's errors. */
  private request<T>(operation: string, key: string | undefined, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.timeoutMs, operation, key, async (signal) => {
      try {
        return await send(signal);
      } catch (error) {
        // Only single-object reads can answer NoSuchKey/NotFound (a missing bucket is NoSuchBucket).
        if (key !== undefined && isNotFound(error)) throw new ObjectNotFoundError(key, { cause: error });
        if (isUnavailable(error)) {
          throw new StorageUnavailableError(`S3 is unavailable: ${describe(error)}`, undefined, { cause: error });
        }
        throw error;
      }
    });
  }
}

/**
 * Upload.abort() stops it starting requests, but the one in flight never sees its signal and would hold a
 * socket until the idle timeout: this view of the client hands every request the deadline's signal. Except
 * the AbortMultipartUpload that Upload sends on the way out, which must still reach S3 to free the parts.
 */
function clientBoundTo(client: S3Client, signal: AbortSignal): S3Client {
  const bound = Object.create(client) as S3Client;
  bound.send = ((command: Parameters<S3Client['send']>[0], options?: { abortSignal?: AbortSignal }) =>
    client.send(command, command instanceof AbortMultipartUploadCommand ? options : { ...options, abortSignal: signal })) as S3Client['send'];
  return bound;
}

function bodyOf(response: GetObjectCommandOutput, key: string): Readable {
  if (!(response.Body instanceof Readable)) {
    throw new Error(`S3 returned no readable body for "${key}"`);
  }
  return response.Body;
}

function isNotFound(error: unknown): boolean {
  // HEAD responses have no body, so the SDK can only name them after the status: "NotFound".
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound');
}

function isUnavailable(error: unknown): boolean {
  if (error instanceof S3ServiceException) {
    // 501 NotImplemented is a missing feature of the server, not an outage: retrying will not help.
    const status = error.$metadata.httpStatusCode ?? 0;
    return status >= 500 && status !== 501;
  }
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return error.name === 'TimeoutError' || (code !== undefined && NETWORK_ERROR_CODES.has(code));
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${error.name} ${code}: ${error.message}` : `${error.name}: ${error.message}`;
}
