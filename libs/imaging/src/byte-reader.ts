import { open, type FileHandle } from 'node:fs/promises';
import { nextTurn } from './turns';

/**
 * How much of an upload the container walkers hold at once. Reading a 20 MB spool file whole made 50 concurrent
 * uploads cost ~1 GB (issue 8, F7); one 64 KiB window per probe costs 3 MB for 50. A window is also the most
 * data a walker handles in one event-loop turn (see {@link ByteReader}).
 */
export const READ_WINDOW_BYTES = 64 * 1024;

/** Where a reader's windows come from: a spool file, or bytes a caller already holds. */
interface WindowSource {
  readonly size: number;
  /** The bytes from `position` on, up to READ_WINDOW_BYTES of them; valid until the next call. */
  readWindow(position: number): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * Random access to an upload through one small window, for walkers that skip from header to header.
 *
 * Why the walkers do not stall the API's event loop (F8), without a worker-thread pool: every window is fetched
 * in a new event-loop turn (a file read completes as I/O; a Buffer's next window waits for setImmediate), so
 * other requests run between windows; within a window, the walkers also give way every STEPS_PER_TURN chunks
 * or segments (turns.ts), and they cap their counts (MAX_PNG_CHUNKS, MAX_JPEG_SEGMENTS_BEFORE_FRAME). Measured
 * on the 1.75 M empty IDAT bomb: turns of ~1 ms once the JIT is warm (~6 ms cold), 60-70 ms of CPU in all.
 * A worker-thread pool (piscina) would spend the same CPU plus threads and a message round trip per upload, and
 * a TypeScript worker file would need the tsx loader in every worker: not worth it for work this bounded.
 */
export class ByteReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  private constructor(private readonly source: WindowSource) {}

  /** Opens a file for windowed reading; the caller must close() the reader. */
  static async openFile(path: string): Promise<ByteReader> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      return new ByteReader(fileSource(handle, size));
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Reads bytes already in memory through the same windows, so they are walked exactly like a file. */
  static fromBuffer(bytes: Buffer): ByteReader {
    return new ByteReader(bufferSource(bytes));
  }

  get size(): number {
    return this.source.size;
  }

  /**
   * `length` bytes at `position` when the current window holds them, else undefined: the walkers' fast path,
   * since an `await` per chunk costs more than walking the chunk does.
   * @returns a view that stays valid only until the next read
   */
  peek(position: number, length: number): Buffer | undefined {
    const from = position - this.windowStart;
    if (from < 0 || from + length > this.window.length) return undefined;
    return this.window.subarray(from, from + length);
  }

  /**
   * `length` bytes at `position`, from the current window when it holds them.
   * @param length at most {@link READ_WINDOW_BYTES}
   * @returns a view that stays valid only until the next call: copy what must outlive it
   * @throws {RangeError} when the bytes lie past the end (callers check lengths against `size` first)
   */
  async bytes(position: number, length: number): Promise<Buffer> {
    if (length > READ_WINDOW_BYTES || position < 0 || position + length > this.size) {
      throw new RangeError(`cannot read ${length} bytes at offset ${position} of ${this.size}`);
    }
    const inWindow = this.peek(position, length);
    if (inWindow) return inWindow;
    await this.moveWindow(position);
    return this.window.subarray(0, length);
  }

  /** Hands `visit` the `length` bytes from `position` in consecutive slices of at most one window each. */
  async forEachSlice(position: number, length: number, visit: (slice: Buffer) => void): Promise<void> {
    const end = position + length;
    for (let at = position; at < end; ) {
      const slice = (await this.windowFrom(at)).subarray(0, end - at);
      visit(slice);
      at += slice.length;
    }
  }

  /**
   * The first position at or after `from` whose byte is not `value` (e.g. past JPEG fill bytes), or `size`
   * when the rest of the data is all `value`. Scans a window at a time.
   */
  async skipRepeated(value: number, from: number): Promise<number> {
    for (let at = from; at < this.size; ) {
      const slice = await this.windowFrom(at);
      const index = slice.findIndex((byte) => byte !== value);
      if (index !== -1) return at + index;
      at += slice.length;
    }
    return this.size;
  }

  close(): Promise<void> {
    return this.source.close();
  }

  /** The bytes from `position` (< size) to the end of a window: the current one when it holds them, else the next. */
  private async windowFrom(position: number): Promise<Buffer> {
    if (!this.peek(position, 1)) await this.moveWindow(position);
    return this.window.subarray(position - this.windowStart);
  }

  private async moveWindow(position: number): Promise<void> {
    this.window = await this.source.readWindow(position);
    this.windowStart = position;
  }
}

function fileSource(handle: FileHandle, size: number): WindowSource {
  // One buffer per reader, refilled in place: no garbage per window, so memory stays flat between GCs.
  const window = Buffer.allocUnsafe(Math.min(READ_WINDOW_BYTES, size));
  return {
    size,
    async readWindow(position) {
      const wanted = Math.min(window.length, size - position);
      const { bytesRead } = await handle.read(window, 0, wanted, position);
      if (bytesRead !== wanted) {
        // The spool file is ours and written once: a short read means someone changed it under us.
        throw new Error(`expected ${wanted} bytes at offset ${position} of a ${size}-byte file; read ${bytesRead}`);
      }
      return window.subarray(0, wanted);
    },
    close: () => handle.close(),
  };
}

function bufferSource(bytes: Buffer): WindowSource {
  return {
    size: bytes.length,
    async readWindow(position) {
      // Views cost nothing, but handing out the whole buffer at once would let a walker run through all of
      // it in one event-loop turn: a window per turn, as for a file.
      await nextTurn();
      return bytes.subarray(position, position + READ_WINDOW_BYTES);
    },
    close: async () => {},
  };
}
