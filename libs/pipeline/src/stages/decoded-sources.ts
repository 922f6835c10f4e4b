import { LRUCache } from 'lru-cache';
import { CpuScheduler, decodeRenditionBase, type RenditionBase } from '@renditions/imaging';
import type { ObjectStorage } from '@renditions/storage';

/** Long enough for an asset's later stages (its AVIFs wait for its JPEG/WebP) to find what its first decoded. */
const KEEP_MS = 2 * 60_000;
/** Camera originals are 2-20 MB, bases ~2.5 MB (1024 px, RGB) plus the original they hold: a dozen or more assets in flight fit. */
const ORIGINALS_MAX_BYTES = 96 * 1024 * 1024;
const BASES_MAX_BYTES = 64 * 1024 * 1024;

interface SourceOf {
  storage: ObjectStorage;
  originalKey: string;
  /** Where the decode waits for a core: the process's scheduler unless given (its backfill lane, for a re-render). */
  cpu?: CpuScheduler;
}

/**
 * Each asset's original and decoded base, kept in this process for the stages that follow: the strip, the
 * hashes, the JPEG/WebP and the AVIF renditions all run from one fetch and one decode (the same promise when
 * they ask at once). An asset is immutable under its id, so a cached copy is never stale; a failed fetch or
 * decode is not kept, so a retry starts afresh. A stage served by another process decodes there once too.
 */
export class DecodedSources {
  private readonly originals = new LRUCache<string, Buffer, SourceOf>({
    maxSize: ORIGINALS_MAX_BYTES,
    sizeCalculation: (original) => Math.max(1, original.length),
    ttl: KEEP_MS,
    ignoreFetchAbort: true,
    fetchMethod: (_assetId, _stale, { context }) => context.storage.getBuffer(context.originalKey),
  });

  private readonly bases = new LRUCache<string, RenditionBase, SourceOf>({
    maxSize: BASES_MAX_BYTES,
    // A base keeps its original alive (an animation's WebP renditions decode it again): it counts here too.
    sizeCalculation: (base) => Math.max(1, base.data.length + base.original.length),
    ttl: KEEP_MS,
    ignoreFetchAbort: true,
    fetchMethod: async (assetId, _stale, { context }) => {
      const original = await this.original(assetId, context);
      return (context.cpu ?? this.cpu).run('decode', () => decodeRenditionBase(original));
    },
  });

  constructor(private readonly cpu: CpuScheduler) {}

  /** The stored original's bytes. */
  async original(assetId: string, source: SourceOf): Promise<Buffer> {
    return required(await this.originals.fetch(assetId, { context: source }));
  }

  /** The decoded base every rendition and hash is made from. @throws {InvalidImageError} when undecodable */
  async base(assetId: string, source: SourceOf): Promise<RenditionBase> {
    return required(await this.bases.fetch(assetId, { context: source }));
  }

  /** The asset has settled: nothing more will be made from it here. */
  forget(assetId: string): void {
    this.originals.delete(assetId);
    this.bases.delete(assetId);
  }
}

function required<T>(value: T | undefined): T {
  // fetch() resolves undefined only when the fetch was aborted, which ignoreFetchAbort rules out.
  if (value === undefined) throw new Error('the cached fetch was aborted');
  return value;
}
