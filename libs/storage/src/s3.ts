import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Config } from '@renditions/config';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ObjectNotFoundError, StorageUnavailableError } from './errors';
import type { ByteRange, ObjectInfo, ObjectStorage, PutOptions } from './types';

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
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(config: S3Config) {
    this.bucket = config.bucket;
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
    // Upload switches to multipart above 5 MB and aborts it on failure, so no partial object is ever visible.
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        ContentLength: options.contentLength,
      },
    });
    await this.call(() => upload.done());
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const response = await this.call(
      () =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        ),
      key,
    );
    if (!(response.Body instanceof Readable)) {
      throw new Error(`S3 returned no readable body for "${key}"`);
    }
    return response.Body;
  }

  async getBuffer(key: string): Promise<Buffer> {
    return buffer(await this.get(key));
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const response = await this.call(() =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
      key);
      return { size: response.ContentLength ?? 0 };
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      // A readiness probe cares whether we can serve, not why: a missing bucket or bad credentials is also "not ready".
      throw new StorageUnavailableError(`S3 bucket "${this.bucket}" is not reachable: ${describe(error)}`, undefined, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Runs one SDK call, translating its failures into the product's errors; `key` enables not-found mapping. */
  private async call<T>(operation: () => Promise<T>, key?: string): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (key !== undefined && isNotFound(error)) throw new ObjectNotFoundError(key, { cause: error });
      if (isUnavailable(error)) {
        throw new StorageUnavailableError(`S3 is unavailable: ${describe(error)}`, undefined, { cause: error });
      }
      throw error;
    }
  }
}

function isNotFound(error: unknown): boolean {
  // HEAD responses have no body, so the SDK can only name them after the status: "NotFound".
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound');
}

function isUnavailable(error: unknown): boolean {
  if (error instanceof S3ServiceException) {
    return (error.$metadata.httpStatusCode ?? 0) >= 500;
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
