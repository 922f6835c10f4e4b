import { Redis, type RedisOptions } from 'ioredis';

/**
 * Workers block on Redis and must retry forever (`maxRetriesPerRequest: null`); producers in the request path
 * must fail at once when Redis is down (`enableOfflineQueue: false`) so an upload falls back to the outbox
 * instead of hanging.
 */
export function createRedisConnection(url: string, role: 'worker' | 'producer'): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 };
  return new Redis(url, {
    ...options,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
}
