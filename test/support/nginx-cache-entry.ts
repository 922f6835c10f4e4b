import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** One copy in nginx's proxy cache, as nginx stored it. */
export interface NginxCacheEntry {
  key: string;
  /** How long nginx serves the copy without asking the origin: from the origin's Cache-Control. */
  lifetimeSeconds: number;
  /** When it stops doing so. */
  validUntil: Date;
}

/** The cache file header layout nginx 1.22 writes (ngx_http_file_cache_header_t, NGX_HTTP_CACHE_VERSION 5, 64-bit). */
const CACHE_FILE_VERSION = 5n;
const VALID_SEC_OFFSET = 8;
const DATE_OFFSET = 40;

/**
 * The copy nginx holds under `key` (the cache key: `$uri`, or `$uri|<format class>` for a negotiated URL), read from
 * its file in a cache of `levels=1:2` (deploy/nginx/cdn.conf); undefined when nothing is cached under it. This is how
 * a test sees how long nginx keeps a copy, which no response header says.
 * @throws {Error} for a file in another layout (another nginx version): the reading would be meaningless
 */
export async function readCacheEntry(cacheDir: string, key: string): Promise<NginxCacheEntry | undefined> {
  const md5 = createHash('md5').update(key).digest('hex');
  const file = path.join(cacheDir, md5.slice(-1), md5.slice(-3, -1), md5);
  const data = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!data) return undefined;
  const version = data.readBigUInt64LE(0);
  if (version !== CACHE_FILE_VERSION) throw new Error(`Expected nginx cache file version 5 in ${file} but received ${version}`);
  const storedKey = /\nKEY: ([^\n]*)\n/.exec(data.toString('latin1'))?.[1];
  if (storedKey !== key) throw new Error(`Expected the key ${JSON.stringify(key)} in ${file} but received ${JSON.stringify(storedKey)}`);
  const validSec = Number(data.readBigInt64LE(VALID_SEC_OFFSET));
  const date = Number(data.readBigInt64LE(DATE_OFFSET));
  return { key, lifetimeSeconds: validSec - date, validUntil: new Date(validSec * 1000) };
}
