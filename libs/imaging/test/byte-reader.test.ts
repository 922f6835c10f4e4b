import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteReader, READ_WINDOW_BYTES } from '../src/byte-reader';

const W = READ_WINDOW_BYTES;
const dir = mkdtempSync(path.join(tmpdir(), 'byte-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeTemp(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** Runs `fn` on a reader over the file and on one over the same bytes. */
async function bothReaders(bytes: Buffer, fn: (reader: ByteReader, kind: string) => Promise<void>): Promise<void> {
  const file = await ByteReader.openFile(writeTemp(`bytes-${bytes.length}`, bytes));
  try {
    await fn(file, 'file');
  } finally {
    await file.close();
  }
  await fn(ByteReader.fromBuffer(bytes), 'buffer');
}

describe('ByteReader', () => {
  const bytes = randomBytes(3 * W + 1000);

  it('reads the same bytes from a file and from memory, across window boundaries', async () => {
    await bothReaders(bytes, async (reader, kind) => {
      expect(reader.size).toBe(bytes.length);
      for (const [position, length] of [[0, 8], [W - 4, 8], [W - 1, 1], [W, 12], [2 * W - 3, W], [bytes.length - 5, 5], [17, 0]] as const) {
        expect((await reader.bytes(position, length)).equals(bytes.subarray(position, position + length)), `${kind} ${position}+${length}`).toBe(true);
      }
    });
  });

  it('peeks only into the current window, without reading', async () => {
    await bothReaders(bytes, async (reader) => {
      expect(reader.peek(0, 4)).toBeUndefined();
      await reader.bytes(100, 4);
      expect(reader.peek(100 + W - 8, 8)?.equals(bytes.subarray(100 + W - 8, 100 + W))).toBe(true);
      expect(reader.peek(100 + W - 8, 9)).toBeUndefined();
      expect(reader.peek(99, 1)).toBeUndefined();
    });
  });

  it('hands out a long range as window-sized slices', async () => {
    await bothReaders(bytes, async (reader) => {
      const slices: Buffer[] = [];
      await reader.forEachSlice(10, 2 * W + 500, (slice) => {
        expect(slice.length).toBeLessThanOrEqual(W);
        slices.push(Buffer.from(slice));
      });
      expect(Buffer.concat(slices).equals(bytes.subarray(10, 10 + 2 * W + 500))).toBe(true);
    });
  });

  it('skips a run of one byte value, however many windows it spans', async () => {
    const fill = Buffer.concat([Buffer.from([1, 2]), Buffer.alloc(2 * W, 0xff), Buffer.from([0xd8, 0xff])]);
    await bothReaders(fill, async (reader) => {
      expect(await reader.skipRepeated(0xff, 2)).toBe(2 + 2 * W);
      expect(await reader.skipRepeated(0xff, 0)).toBe(0);
      expect(await reader.skipRepeated(0xff, fill.length - 1)).toBe(fill.length);
    });
  });

  it('refuses reads past the end or larger than a window', async () => {
    await bothReaders(bytes, async (reader) => {
      await expect(reader.bytes(bytes.length - 4, 5)).rejects.toThrow(RangeError);
      await expect(reader.bytes(0, W + 1)).rejects.toThrow(RangeError);
    });
  });

  it('reads an empty file', async () => {
    await bothReaders(Buffer.alloc(0), async (reader) => {
      expect(reader.size).toBe(0);
      expect((await reader.bytes(0, 0)).length).toBe(0);
    });
  });

  it('lets the event loop run between the windows of a Buffer, as between file reads', async () => {
    const reader = ByteReader.fromBuffer(Buffer.alloc(10 * W));
    let turns = 0;
    let counting = true;
    const count = () => {
      turns += 1;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    await reader.forEachSlice(0, 10 * W, () => {});
    counting = false;
    expect(turns).toBeGreaterThanOrEqual(9);
  });

  it('fails loudly when the file shrinks under it (a spool file is written once)', async () => {
    const file = writeTemp('shrinks', bytes);
    const reader = await ByteReader.openFile(file);
    try {
      truncateSync(file, W + 10);
      await expect(reader.bytes(2 * W, 4)).rejects.toThrow(/expected \d+ bytes at offset 131072 of a \d+-byte file; read 0/);
    } finally {
      await reader.close();
    }
  });

  it('reports a missing file as the file system does', async () => {
    await expect(ByteReader.openFile(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
