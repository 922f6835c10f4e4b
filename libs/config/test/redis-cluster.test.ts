import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

describe('REDIS_CLUSTER_NODES', () => {
  it('is unset by default, and when empty (compose passes ${REDIS_CLUSTER_NODES:-})', () => {
    expect(loadConfig({}).redisClusterNodes).toBeNull();
    expect(loadConfig({ REDIS_CLUSTER_NODES: ' ' }).redisClusterNodes).toBeNull();
  });

  it('reads comma-separated host:port seeds, IPv6 in brackets', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002' }).redisClusterNodes).toEqual([
      { host: 'redis-1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it('stops at start on a seed that is not host:port, naming the variable and the seed', () => {
    for (const [value, seed] of [
      ['redis-1', 'redis-1'],
      ['redis-1:7000,redis-2', 'redis-2'],
      ['redis-1:7000,,redis-2:7001', ''],
      ['redis://redis-1:7000', 'redis://redis-1:7000'],
      ['redis-1:0', 'redis-1:0'],
      ['redis-1:70000', 'redis-1:70000'],
    ]) {
      expect(() => loadConfig({ REDIS_CLUSTER_NODES: value }), value).toThrow(
        `REDIS_CLUSTER_NODES: expected comma-separated host:port seeds of a Redis Cluster (e.g. redis-1:6379,redis-2:6379,redis-3:6379) but received "${seed}"`,
      );
    }
  });

  it('asks for a hash-tagged QUEUE_PREFIX on a cluster only', () => {
    const cluster = { REDIS_CLUSTER_NODES: 'redis-1:7000' };
    expect(loadConfig({ ...cluster, QUEUE_PREFIX: '{img}' }).queuePrefix).toBe('{img}');
    expect(loadConfig({ ...cluster, QUEUE_PREFIX: 'prod-{img}' }).queuePrefix).toBe('prod-{img}');
    expect(loadConfig({ QUEUE_PREFIX: 'img' }).queuePrefix).toBe('img');
    for (const prefix of ['img', '{}img', 'img}{', '{img']) {
      expect(() => loadConfig({ ...cluster, QUEUE_PREFIX: prefix }), prefix).toThrow(
        `QUEUE_PREFIX: expected a hash tag such as {img} when REDIS_CLUSTER_NODES is set`,
      );
    }
  });
});
