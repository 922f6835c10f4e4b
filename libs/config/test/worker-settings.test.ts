import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { selectWorkerQueues } from '../src/worker-queues';

const QUEUES = ['strip', 'phash', 'moderation', 'render', 'render-avif', 'settle', 'cleanup', 'webhook'] as const;

describe('WORKER_QUEUES', () => {
  it('serves every queue when unset or empty', () => {
    for (const env of [{}, { WORKER_QUEUES: '' }, { WORKER_QUEUES: ' , ' }]) {
      const { queues } = loadConfig(env).worker;
      expect(queues).toBeNull();
      expect(selectWorkerQueues(queues, QUEUES)).toEqual([...QUEUES]);
    }
  });

  it('serves the listed queues only, in the product order, each once', () => {
    const { queues } = loadConfig({ WORKER_QUEUES: ' render-avif ,settle,render-avif' }).worker;
    expect(selectWorkerQueues(queues, QUEUES)).toEqual(['render-avif', 'settle']);
  });

  it('refuses an unknown queue, naming it and listing the known ones', () => {
    const { queues } = loadConfig({ WORKER_QUEUES: 'render,avif,thumbnails' }).worker;
    expect(() => selectWorkerQueues(queues, QUEUES)).toThrow(ConfigError);
    expect(() => selectWorkerQueues(queues, QUEUES)).toThrow(
      'Invalid configuration:\n' +
        '  WORKER_QUEUES: unknown queue "avif"; expected a comma-separated list of strip, phash, moderation, render, render-avif, settle, cleanup, webhook\n' +
        '  WORKER_QUEUES: unknown queue "thumbnails"; expected a comma-separated list of strip, phash, moderation, render, render-avif, settle, cleanup, webhook',
    );
  });
});

describe('the database pool settings', () => {
  it('prepares statements in a pool of 10 by default', () => {
    expect(loadConfig({}).database).toEqual({ poolSize: 10, prepare: true });
  });

  it('reads DATABASE_POOL_SIZE and DATABASE_PREPARE=false (PgBouncer in transaction mode)', () => {
    expect(loadConfig({ DATABASE_POOL_SIZE: '4', DATABASE_PREPARE: 'false' }).database).toEqual({ poolSize: 4, prepare: false });
    expect(loadConfig({ DATABASE_PREPARE: '0' }).database.prepare).toBe(false);
  });

  it('refuses a pool of no connections and a prepare flag that is not a boolean', () => {
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE/);
    expect(() => loadConfig({ DATABASE_PREPARE: 'no' })).toThrow(/DATABASE_PREPARE/);
  });
});
