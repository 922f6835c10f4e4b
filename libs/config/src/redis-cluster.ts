import { z } from 'zod';

/** A seed of a Redis Cluster: the client asks it for the cluster's layout and finds every other node from there. */
export interface RedisNode {
  host: string;
  port: number;
}

// `host:port`, or `[IPv6 address]:port`.
const SEED = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;
const EXAMPLE = 'redis-1:6379,redis-2:6379,redis-3:6379';

/** REDIS_CLUSTER_NODES: comma-separated `host:port` seeds; unset or empty (compose's `${REDIS_CLUSTER_NODES:-}`) is none. */
export const redisClusterNodes = z
  .string()
  .optional()
  .transform((value, ctx): RedisNode[] | null => {
    if (value === undefined || value.trim() === '') return null;
    const nodes: RedisNode[] = [];
    for (const seed of value.split(',').map((entry) => entry.trim())) {
      const match = SEED.exec(seed);
      const port = Number(match?.[3]);
      if (!match || port < 1 || port > 65535) {
        ctx.addIssue({
          code: 'custom',
          message: `expected comma-separated host:port seeds of a Redis Cluster (e.g. ${EXAMPLE}) but received "${seed}" in "${value}"`,
        });
        return z.NEVER;
      }
      nodes.push({ host: match[1] ?? match[2]!, port });
    }
    return nodes;
  });

/**
 * Redis Cluster runs a script only when all its keys are in one slot, and BullMQ's scripts touch several keys of a
 * queue (and a flow touches several queues) at once: the queue prefix must carry a hash tag, the part between the
 * first `{` and the next `}`, which alone decides the slot. Returns what is wrong, or null.
 */
export function clusterQueuePrefixProblem(queuePrefix: string, clusterNodes: RedisNode[] | null): string | null {
  if (!clusterNodes) return null;
  const open = queuePrefix.indexOf('{');
  const close = open < 0 ? -1 : queuePrefix.indexOf('}', open + 1);
  if (close > open + 1) return null;
  return `expected a hash tag such as {img} when REDIS_CLUSTER_NODES is set (BullMQ keeps a flow's keys in one Redis Cluster slot only through it) but received "${queuePrefix}"`;
}
