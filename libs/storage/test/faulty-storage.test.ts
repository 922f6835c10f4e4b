import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultyStorage } from '../../../test/support/faulty-storage';
import { LocalStorage, StorageUnavailableError } from '../src/index';
import { BYTES, OCTETS, keysOf } from './fixtures';

const TIMEOUT_MS = 300;

describe('FaultyStorage', () => {
  let dir: string;
  let storage: FaultyStorage;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'faulty-storage-'));
    storage = new FaultyStorage(new LocalStorage(dir), { timeoutMs: TIMEOUT_MS });
  });
  afterEach(async () => {
    storage.clearAll();
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails the chosen calls the chosen number of times, then passes through', async () => {
    storage.inject({ method: 'put', key: /^renditions\//, times: 2, mode: 'fail' });
    await storage.put('originals/a', BYTES, OCTETS);
    await expect(storage.put('renditions/a', BYTES, OCTETS)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(storage.put('renditions/a', BYTES, OCTETS)).rejects.toMatchObject({ httpStatus: 503 });
    await storage.put('renditions/a', BYTES, OCTETS);

    expect(await storage.getBuffer('renditions/a')).toEqual(BYTES);
    expect(storage.calls.filter(({ method }) => method === 'put').map(({ key }) => key)).toEqual([
      'originals/a',
      'renditions/a',
      'renditions/a',
      'renditions/a',
    ]);
  });

  it('fails a listing before its first object', async () => {
    await storage.put('assets/a/original', BYTES, OCTETS);
    const fault = storage.inject({ method: 'list', mode: 'fail' });
    await expect(keysOf(storage.list('assets/'))).rejects.toBeInstanceOf(StorageUnavailableError);
    fault.clear();
    expect(await keysOf(storage.list('assets/'))).toEqual(['assets/a/original']);
  });

  it('holds a stalled call until the fault is cleared, then lets it through', async () => {
    await storage.put('originals/a', BYTES, OCTETS);
    const stall = storage.inject({ method: 'getBuffer', mode: 'stall' });
    let settled = false;
    const read = storage.getBuffer('originals/a').finally(() => (settled = true));
    await sleep(TIMEOUT_MS / 3);
    expect(settled).toBe(false);
    stall.clear();
    expect(await read).toEqual(BYTES);
  });

  it('fails a call stalled past the deadline like the real drivers do', async () => {
    storage.inject({ method: 'delete', key: /^originals\//, mode: 'stall' });
    const deleting = storage.delete('originals/a');
    await expect(deleting).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(deleting).rejects.toThrow(`Storage did not answer within ${TIMEOUT_MS} ms (delete "originals/a")`);
    await storage.delete('renditions/a');
  });
});
