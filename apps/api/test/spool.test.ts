import { createHash, pbkdf2 } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTooLargeError } from '@renditions/errors';
import { readCorpus } from '../../../test/support/corpus';
import { spoolToFile } from '../src/middleware/receive-upload';

/** The bytes as a network delivers them: in chunks of a few KB. */
const arriving = (bytes: Buffer) => Readable.from(Array.from({ length: Math.ceil(bytes.length / 5000) }, (_, i) => bytes.subarray(i * 5000, (i + 1) * 5000)));

describe('spoolToFile', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'spool-test-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('writes the bytes, counts and hashes them, and keeps the skeleton of a complete JPEG', async () => {
    const photo = readCorpus('photos/nikon-e950.jpg');
    const spooled = await spoolToFile(arriving(photo), { directory });
    expect(await readFile(spooled.path)).toEqual(photo);
    expect(spooled).toMatchObject({ bytes: photo.length, sha256: createHash('sha256').update(photo).digest('hex') });
    expect(spooled.jpegSkeleton?.length).toBeGreaterThan(0);
  });

  it.each([
    ['a JPEG cut short', readCorpus('photos/nikon-e950.jpg').subarray(0, 100_000)],
    ['a progressive JPEG', readCorpus('formats/32-lens_data.jpeg')],
    ['a PNG', readCorpus('formats/with-alpha.png')],
  ])('has no skeleton for %s: validation decodes it whole', async (_what, bytes) => {
    expect((await spoolToFile(arriving(bytes), { directory })).jpegSkeleton).toBeUndefined();
  });

  it('stops at maxBytes and leaves no file', async () => {
    const photo = readCorpus('photos/nikon-e950.jpg');
    await expect(spoolToFile(arriving(photo), { directory, maxBytes: 50_000 })).rejects.toBeInstanceOf(FileTooLargeError);
    expect(await readdir(directory)).toEqual([]);
  });

  it('leaves no file when the source fails mid-way (a client gone)', async () => {
    const failing = Readable.from(
      (async function* () {
        yield readCorpus('photos/nikon-e950.jpg').subarray(0, 10_000);
        throw new Error('client went away');
      })(),
    );
    await expect(spoolToFile(failing, { directory })).rejects.toThrow('client went away');
    expect(await readdir(directory)).toEqual([]);
  });

  it('leaves no file when the source fails before the file is even open (libuv threads busy, as under load)', async () => {
    // The file is opened on a libuv thread. With the threads busy, a source that fails at once ends the spool before
    // that open is done; a removal racing it left the file the open then created (6 in 200 before the fix).
    for (let round = 0; round < 200; round++) {
      const busy = Array.from({ length: round % 5 }, () => promisify(pbkdf2)('x', 'y', 3000 + (round % 7) * 500, 32, 'sha256'));
      const failing = Readable.from(
        (async function* () {
          yield* [];
          throw new Error('unexpected end of form');
        })(),
      );
      await expect(spoolToFile(failing, { directory })).rejects.toThrow('unexpected end of form');
      await Promise.all(busy);
    }
    expect(await readdir(directory)).toEqual([]);
  });
});
