import {
  StorageUnavailableError,
  withDeadline,
  type ByteRange,
  type ListedObject,
  type ObjectInfo,
  type ObjectStorage,
  type PutOptions,
} from '@renditions/storage';
import type { Readable } from 'node:stream';

export type FaultyMethod = 'put' | 'get' | 'getBuffer' | 'head' | 'delete' | 'list' | 'deletePrefix';

export interface Fault {
  method: FaultyMethod;
  /** Only calls whose key (the prefix, for list and deletePrefix) matches; every call when absent. */
  key?: RegExp;
  /** How many matching calls it hits before passing through again; Infinity by default. */
  times?: number;
  /** 'fail': rejects like an outage. 'stall': answers nothing until cleared, or until the deadline passes. */
  mode: 'fail' | 'stall';
}

export interface FaultHandle {
  /** Removes the fault; calls stalled by it go on to the real storage. */
  clear(): void;
}

interface ActiveFault extends Fault {
  remaining: number;
  cleared: Promise<void>;
  release(): void;
}

/**
 * Wraps a real ObjectStorage so a test can make chosen calls fail or stall, the way a storage outage would.
 * Stalled calls keep the real drivers' deadline: they reject with StorageUnavailableError after `timeoutMs`.
 * @example const storage = new FaultyStorage(new LocalStorage(dir), { timeoutMs: 200 });
 *          storage.inject({ method: 'put', key: /^renditions\//, times: 2, mode: 'fail' });
 */
export class FaultyStorage implements ObjectStorage {
  readonly calls: Array<{ method: FaultyMethod; key: string }> = [];
  private readonly faults = new Set<ActiveFault>();
  private readonly timeoutMs: number;

  constructor(
    private readonly storage: ObjectStorage,
    options: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  get driver(): ObjectStorage['driver'] {
    return this.storage.driver;
  }

  get spoolDirectory(): string {
    return this.storage.spoolDirectory;
  }

  inject(fault: Fault): FaultHandle {
    let release = () => {};
    const cleared = new Promise<void>((resolve) => (release = resolve));
    const active: ActiveFault = { ...fault, remaining: fault.times ?? Infinity, cleared, release };
    this.faults.add(active);
    return { clear: () => this.clear(active) };
  }

  clearAll(): void {
    for (const fault of this.faults) this.clear(fault);
  }

  put(key: string, body: Readable | Buffer, options: PutOptions): Promise<void> {
    return this.call('put', key, () => this.storage.put(key, body, options));
  }

  /** A put from a file: faults injected for 'put' hit it too. */
  putFile(key: string, file: string, options: PutOptions): Promise<void> {
    return this.call('put', key, () => this.storage.putFile(key, file, options));
  }

  get(key: string, range?: ByteRange): Promise<Readable> {
    return this.call('get', key, () => this.storage.get(key, range));
  }

  getBuffer(key: string): Promise<Buffer> {
    return this.call('getBuffer', key, () => this.storage.getBuffer(key));
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.call('head', key, () => this.storage.head(key));
  }

  delete(key: string): Promise<void> {
    return this.call('delete', key, () => this.storage.delete(key));
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    // The fault hits the first page, before anything is listed.
    await this.call('list', prefix, async () => undefined);
    yield* this.storage.list(prefix);
  }

  deletePrefix(prefix: string): Promise<number> {
    return this.call('deletePrefix', prefix, () => this.storage.deletePrefix(prefix));
  }

  abortIncompleteUploads(olderThan: Date): Promise<number> {
    return this.storage.abortIncompleteUploads(olderThan);
  }

  ping(): Promise<void> {
    return this.storage.ping();
  }

  close(): Promise<void> {
    return this.storage.close();
  }

  private async call<T>(method: FaultyMethod, key: string, passThrough: () => Promise<T>): Promise<T> {
    this.calls.push({ method, key });
    const fault = this.take(method, key);
    if (fault?.mode === 'fail') {
      throw new StorageUnavailableError(`Injected storage fault (${method} "${key}")`);
    }
    if (fault?.mode === 'stall') {
      await withDeadline(this.timeoutMs, method, key, () => fault.cleared);
    }
    return passThrough();
  }

  /** The first fault matching this call, which the call uses up. */
  private take(method: FaultyMethod, key: string): ActiveFault | undefined {
    for (const fault of this.faults) {
      if (fault.method !== method || (fault.key && !fault.key.test(key))) continue;
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults.delete(fault);
      return fault;
    }
    return undefined;
  }

  private clear(fault: ActiveFault): void {
    // Also releases the calls it stalled after its `times` ran out.
    fault.release();
    this.faults.delete(fault);
  }
}
