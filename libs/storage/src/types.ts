import type { Readable } from 'node:stream';

/** An inclusive byte range, as HTTP `Range` expresses it. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutOptions {
  contentType: string;
  /** Known size in bytes, when the caller has it (lets S3 skip multipart for small bodies). */
  contentLength?: number;
}

export interface ObjectInfo {
  size: number;
}

/**
 * Where originals and renditions live. Keys are deterministic (`originals/<sha256>`, ...), so every
 * write is idempotent: writing the same key twice leaves one object with the last bytes.
 */
export interface ObjectStorage {
  readonly driver: 'local' | 's3';
  /** Stores a whole object; resolves only once it is durable. A failed write leaves no partial object. */
  put(key: string, body: Readable | Buffer, options: PutOptions): Promise<void>;
  /** Streams an object, or one range of it. @throws {ObjectNotFoundError} */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Reads a whole object into memory (sources for image processing). @throws {ObjectNotFoundError} */
  getBuffer(key: string): Promise<Buffer>;
  /** `null` when there is no such object. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Readiness probe. @throws {StorageUnavailableError} when the backend cannot be reached */
  ping(): Promise<void>;
  /** Releases sockets or handles. */
  close(): Promise<void>;
}
