import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import multer, { type StorageEngine } from 'multer';
import type { ReceivedFile } from '@renditions/pipeline';

type SpooledFile = Express.Multer.File & ReceivedFile;

/**
 * A multer storage engine that spools the file to a temporary file while hashing it, so a 20 MB upload never
 * sits in memory and its SHA-256 is known the moment the last byte arrives.
 */
class HashingSpoolStorage implements StorageEngine {
  constructor(private readonly directory: string) {}

  _handleFile(_req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<SpooledFile>) => void) {
    const spoolPath = path.join(this.directory, `upload-${randomUUID()}`);
    const hash = createHash('sha256');
    let bytes = 0;
    mkdir(this.directory, { recursive: true })
      .then(() =>
        pipeline(
          file.stream,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              hash.update(chunk);
              bytes += chunk.length;
              yield chunk;
            }
          },
          createWriteStream(spoolPath),
        ),
      )
      .then(() => callback(null, { path: spoolPath, size: bytes, bytes, sha256: hash.digest('hex') }))
      .catch((error: unknown) => {
        void unlink(spoolPath).catch(() => undefined);
        callback(error);
      });
  }

  _removeFile(_req: Request, file: Express.Multer.File, callback: (error: Error | null) => void) {
    unlink(file.path).then(
      () => callback(null),
      () => callback(null),
    );
  }
}

export function receiveUpload(options: { maxUploadBytes: number; spoolDirectory?: string }) {
  return multer({
    storage: new HashingSpoolStorage(options.spoolDirectory ?? path.join(os.tmpdir(), 'renditions-uploads')),
    limits: { fileSize: options.maxUploadBytes, files: 1, fields: 10, fieldSize: 64 * 1024, parts: 12 },
  }).single('image');
}

export function receivedFile(req: Request): ReceivedFile | undefined {
  const file = req.file as SpooledFile | undefined;
  return file ? { path: file.path, bytes: file.bytes, sha256: file.sha256 } : undefined;
}

export async function discardReceivedFile(req: Request): Promise<void> {
  if (req.file?.path) await unlink(req.file.path).catch(() => undefined);
}
