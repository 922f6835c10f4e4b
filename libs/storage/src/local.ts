import { randomUUID } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { DEFAULT_TIMEOUT_MS, PING_TIMEOUT_MS, withDeadline, type DeadlineOptions } from './deadline';
import { ObjectNotFoundError, StorageUnavailableError } from './errors';
import { assertDeletablePrefix } from './prefix';
import type { ByteRange, ListedObject, ObjectInfo, ObjectStorage, PutOptions } from './types';

/** The folder of the root that spool files are written to (see ObjectStorage.spoolDirectory). */
const SPOOL_FOLDER = '.spool';

/** Stores objects as files under one root directory, the key being the relative path. */
export class LocalStorage implements ObjectStorage {
  readonly driver = 'local';
  readonly spoolDirectory: string;
  private readonly root: string;
  private readonly timeoutMs: number;

  constructor(root: string, options: DeadlineOptions = {}) {
    this.root = path.resolve(root);
    this.spoolDirectory = path.join(this.root, SPOOL_FOLDER);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async put(key: string, body: Readable | Buffer, _options?: PutOptions): Promise<void> {
    const target = this.pathOf(key);
    await this.bounded('put', key, async (signal) => {
      await writeAtomically(target, body, signal);
      await syncDirectory(path.dirname(target));
    });
  }

  async putFile(key: string, file: string, _options?: PutOptions): Promise<void> {
    const target = this.pathOf(key);
    await this.bounded('putFile', key, async (signal) => {
      await syncAsNew(file);
      try {
        await linkAtomically(file, target, signal);
      } catch (error) {
        // A file on another filesystem (a spool directory outside the root) cannot be linked here: copy it.
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        await writeAtomically(target, createReadStream(file), signal);
      }
      await syncDirectory(path.dirname(target));
    });
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    return this.bounded('get', key, async (signal) => {
      // Opening first turns a missing file into a rejected promise rather than a stream error after the response started.
      const handle = await open(file, 'r').catch((error: unknown) => rethrowMissing(error, key));
      try {
        if (!(await handle.stat()).isFile()) throw new ObjectNotFoundError(key);
        // Past the deadline nobody will read this stream; only its handle would remain.
        signal.throwIfAborted();
        return handle.createReadStream(range);
      } catch (error) {
        await handle.close();
        throw error;
      }
    });
  }

  async getBuffer(key: string): Promise<Buffer> {
    const file = this.pathOf(key);
    return this.bounded('getBuffer', key, (signal) =>
      readFile(file, { signal }).catch((error: unknown) => rethrowMissing(error, key)),
    );
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const file = this.pathOf(key);
    const stats = await this.bounded('head', key, () =>
      stat(file).catch((error: unknown) => {
        if (isMissing(error)) return null;
        throw error;
      }),
    );
    return stats?.isFile() ? { size: stats.size } : null;
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    await this.bounded('delete', key, () => this.removeFile(file));
  }

  list(prefix: string): AsyncIterable<ListedObject> {
    return this.listFor('list', prefix);
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertDeletablePrefix(prefix);
    let deleted = 0;
    for await (const { key } of this.listFor('deletePrefix', prefix)) {
      if (await this.bounded('deletePrefix', prefix, () => this.removeFile(path.join(this.root, key)))) deleted += 1;
    }
    return deleted;
  }

  async abortIncompleteUploads(_olderThan: Date): Promise<number> {
    // Files have no multipart uploads: an interrupted put leaves a temp file, which `list` shows to the sweeper.
    return 0;
  }

  async ping(): Promise<void> {
    await withDeadline(Math.min(this.timeoutMs, PING_TIMEOUT_MS), 'ping', undefined, async () => {
      try {
        await mkdir(this.root, { recursive: true });
        await access(this.root, constants.W_OK);
      } catch (error) {
        throw new StorageUnavailableError(`Storage directory ${this.root} is not writable`, undefined, { cause: error });
      }
    });
  }

  async close(): Promise<void> {
    // Every handle is opened and closed per call.
  }

  private bounded<T>(operation: string, key: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.timeoutMs, operation, key, work);
  }

  /** Lists for `operation`, which names the deadline errors. */
  private async *listFor(operation: string, prefix: string): AsyncGenerator<ListedObject> {
    // Start at the folder of the prefix's last '/': a partial name after it ('assets/ab') only filters that level.
    const folderKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    yield* this.walk(operation, prefix, this.folderOf(folderKey, prefix), folderKey);
  }

  /** One folder per deadline, like one page of an S3 listing. */
  private async *walk(operation: string, prefix: string, folder: string, folderKey: string): AsyncGenerator<ListedObject> {
    const page = await this.bounded(operation, prefix, () => readFolder(folder, folderKey, prefix));
    yield* page.objects;
    for (const name of page.folders) {
      yield* this.walk(operation, prefix, path.join(folder, name), `${folderKey}${name}/`);
    }
  }

  /** Deletes one file, then the folders that leaves empty; false when the file was already gone. */
  private async removeFile(file: string): Promise<boolean> {
    try {
      await unlink(file);
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
    // Best effort, so deleted assets do not leave a tree of empty folders: stops at the first one still in use, and
    // keeps the spool folder, which uploads write into without expecting it to vanish.
    for (let folder = path.dirname(file); folder !== this.root && folder !== this.spoolDirectory; folder = path.dirname(folder)) {
      if (!(await rmdir(folder).then(() => true, () => false))) break;
    }
    return true;
  }

  private pathOf(key: string): string {
    // Keys come from our own code, but a traversal here would read or overwrite arbitrary files: refuse loudly.
    if (!isSafeKey(key)) throw new Error(`Invalid storage key "${key}"`);
    return path.join(this.root, key);
  }

  private folderOf(folderKey: string, prefix: string): string {
    if (folderKey === '') return this.root;
    if (!isSafeKey(folderKey.slice(0, -1))) throw new Error(`Invalid storage prefix "${prefix}"`);
    return path.join(this.root, folderKey);
  }
}

function isSafeKey(key: string): boolean {
  return !path.isAbsolute(key) && key.split(/[/\\]/).every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** One folder's files whose keys match `prefix`, and the subfolders that may hold more; a missing folder holds nothing. */
async function readFolder(
  folder: string,
  folderKey: string,
  prefix: string,
): Promise<{ objects: ListedObject[]; folders: string[] }> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: unknown) => {
    if (isMissing(error)) return [];
    throw error;
  });
  const folders = entries.filter((entry) => entry.isDirectory() && `${folderKey}${entry.name}/`.startsWith(prefix));
  const files = entries.filter((entry) => entry.isFile() && `${folderKey}${entry.name}`.startsWith(prefix));
  const objects = await Promise.all(
    files.map(async (entry): Promise<ListedObject | null> => {
      // A file deleted since readdir is simply no longer there.
      const stats = await stat(path.join(folder, entry.name)).catch((error: unknown) => {
        if (isMissing(error)) return null;
        throw error;
      });
      return stats && { key: `${folderKey}${entry.name}`, size: stats.size, lastModified: stats.mtime };
    }),
  );
  return { objects: objects.filter((object) => object !== null), folders: folders.map((entry) => entry.name) };
}

/**
 * Writes `body` next to `target` under a temp name, makes it durable, then renames it over `target`: readers see the
 * old object or the new one, never a prefix. On failure the temp file is removed.
 */
async function writeAtomically(target: string, body: Readable | Buffer, signal: AbortSignal): Promise<void> {
  const temp = tempBeside(target);
  // A body that stops sending would hold the temp file and its handle open until it ends; past the deadline it ends now.
  if (!Buffer.isBuffer(body)) addAbortSignal(signal, body);
  try {
    const handle = await inItsFolder(temp, () => open(temp, 'wx'));
    try {
      await writeFile(handle, body, { signal });
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await renameOver(temp, target, signal);
}

/**
 * Makes a file's bytes durable before a name points at them, and dates it now: the sweeper's grace for an object not
 * recorded yet counts from when it was stored, not from when its bytes arrived.
 */
async function syncAsNew(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const now = new Date();
    await handle.utimes(now, now);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Gives `file` the name `target` as well: a hard link under a temp name beside the target, renamed over it, so the
 * object appears whole or not at all, and replaces an older one as put does. The bytes are not copied.
 */
async function linkAtomically(file: string, target: string, signal: AbortSignal): Promise<void> {
  const temp = tempBeside(target);
  await inItsFolder(temp, () => link(file, temp));
  await renameOver(temp, target, signal);
}

/** A temp name in the target's own folder, so that renaming it over the target is atomic. */
function tempBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomUUID()}.tmp`);
}

/** Renames a finished temp file over its target; the temp file is removed if that does not happen. */
async function renameOver(temp: string, target: string, signal: AbortSignal): Promise<void> {
  try {
    // The caller was told this write failed once the deadline passed: it must not appear behind their back.
    signal.throwIfAborted();
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Creates `file` with `create` once its folder exists. A concurrent delete may prune the folder in the instant it is
 * empty, between the mkdir and the create: then both once more.
 */
async function inItsFolder<T>(file: string, create: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true });
  return create().catch(async (error: unknown) => {
    if (!isMissing(error)) throw error;
    await mkdir(path.dirname(file), { recursive: true });
    return create();
  });
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
