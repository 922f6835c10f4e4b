import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ObjectNotFoundError, StorageUnavailableError } from './errors';
import type { ByteRange, ObjectInfo, ObjectStorage, PutOptions } from './types';

/** Stores objects as files under one root directory, the key being the relative path. */
export class LocalStorage implements ObjectStorage {
  readonly driver = 'local';
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async put(key: string, body: Readable | Buffer, _options?: PutOptions): Promise<void> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    await mkdir(dir, { recursive: true });
    // Same directory as the target so the rename is atomic: readers see the old object or the new one, never a prefix.
    const temp = path.join(dir, `.${path.basename(target)}.${randomUUID()}.tmp`);
    try {
      const handle = await open(temp, 'wx');
      try {
        await writeFile(handle, body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await syncDirectory(dir);
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    // Opening first turns a missing file into a rejected promise rather than a stream error after the response started.
    const handle = await open(file, 'r').catch((error: unknown) => rethrowMissing(error, key));
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new ObjectNotFoundError(key);
    }
    return handle.createReadStream(range);
  }

  async getBuffer(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key)).catch((error: unknown) => rethrowMissing(error, key));
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const stats = await stat(this.pathOf(key)).catch((error: unknown) => {
      if (isMissing(error)) return null;
      throw error;
    });
    return stats?.isFile() ? { size: stats.size } : null;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async ping(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK);
    } catch (error) {
      throw new StorageUnavailableError(`Storage directory ${this.root} is not writable`, undefined, { cause: error });
    }
  }

  async close(): Promise<void> {
    // Every handle is opened and closed per call.
  }

  private pathOf(key: string): string {
    // Keys come from our own code, but a traversal here would read or overwrite arbitrary files: refuse loudly.
    if (path.isAbsolute(key) || key.split(/[/\\]/).some((segment) => segment === '' || segment === '.' || segment === '..')) {
      throw new Error(`Invalid storage key "${key}"`);
    }
    return path.join(this.root, key);
  }
}

/** Makes the rename itself survive a power loss, not only the file's bytes. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function rethrowMissing(error: unknown, key: string): never {
  throw isMissing(error) ? new ObjectNotFoundError(key, { cause: error }) : error;
}
