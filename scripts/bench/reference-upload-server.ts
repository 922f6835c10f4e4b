/**
 * The bar for `upload.ts`: a bare express + multer server that does the least an upload endpoint can do with a
 * file it keeps, spool it to disk while hashing it (SHA-256), then answer 201 with JSON. No validation, no
 * storage, no database. The spool file is removed after the answer, so a long run does not fill the disk.
 * Usage: PORT=<port> SPOOL_DIR=<dir> tsx scripts/bench/reference-upload-server.ts
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import express from 'express';
import multer, { type StorageEngine } from 'multer';

const spoolDir = process.env.SPOOL_DIR!;

const hashingDisk: StorageEngine = {
  _handleFile(_req, file, callback) {
    const spoolPath = path.join(spoolDir, randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    file.stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    pipeline(file.stream, createWriteStream(spoolPath)).then(
      () => callback(null, { path: spoolPath, size, filename: hash.digest('hex') }),
      (error: unknown) => callback(error),
    );
  },
  _removeFile(_req, file, callback) {
    unlink(file.path).then(() => callback(null), callback);
  },
};

const app = express();
app.post('/upload', multer({ storage: hashingDisk, limits: { fileSize: 20 * 1024 * 1024, files: 1 } }).single('image'), (req, res) => {
  const file = req.file!;
  res.status(201).json({ sha256: file.filename, bytes: file.size });
  res.once('finish', () => void unlink(file.path));
});
app.listen(Number(process.env.PORT), '127.0.0.1');
