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

/** One entry of a listing: a stored object, or (local driver) the temp file of a write that never finished. */
export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date;
}

/**
 * Where originals and renditions live. Keys are deterministic (`originals/<sha256>`, ...), so every
 * write is idempotent: writing the same key twice leaves one object with the last bytes.
 */
export interface ObjectStorage {
  readonly driver: 'local' | 's3';
  /**
   * Where to write a file that is to become an object through {@link putFile}. The local driver's is a folder inside
   * its root (`.spool/`), on the same filesystem, so the file is linked into place instead of copied; its files are
   * listed like objects, so the sweeper removes what a crashed process left there. S3's is a folder of the OS temp
   * directory.
   */
  readonly spoolDirectory: string;
  /** Stores a whole object; resolves only once it is durable. A failed write leaves no partial object. */
  put(key: string, body: Readable | Buffer, options: PutOptions): Promise<void>;
  /**
   * Stores the file at `file` as an object, durably, as put does; the file stays where it is, the caller's to remove.
   * The local driver links it into place without copying a byte when it is on the same filesystem (a file of
   * {@link spoolDirectory}); S3 streams it, in parts when large.
   */
  putFile(key: string, file: string, options: PutOptions): Promise<void>;
  /** Streams an object, or one range of it. @throws {ObjectNotFoundError} */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Reads a whole object into memory (sources for image processing). @throws {ObjectNotFoundError} */
  getBuffer(key: string): Promise<Buffer>;
  /** `null` when there is no such object. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Every object whose key starts with `prefix` ('' = all), in no particular order, including what interrupted
   * writes left behind (the local driver's temp files), so the sweeper can find it.
   */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** Removes every object under `prefix` (which must end with '/'); returns how many went. Idempotent. */
  deletePrefix(prefix: string): Promise<number>;
  /** Aborts multipart uploads started before `olderThan` that nobody finished (a killed process); returns how many. */
  abortIncompleteUploads(olderThan: Date): Promise<number>;
  /** Readiness probe. @throws {StorageUnavailableError} when the backend cannot be reached */
  ping(): Promise<void>;
  /** Releases sockets or handles. */
  close(): Promise<void>;
}
