import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports';
import { testChildEnv } from './test-run';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const MASTERS = 3;
const REPLICAS_PER_MASTER = 1;

export interface ClusterNode {
  port: number;
  process: ChildProcess;
}

export interface ClusterKey {
  key: string;
  slot: number;
  /** The master that holds it. */
  port: number;
}

export interface TestRedisClusterOptions {
  /**
   * `cluster-node-timeout`: how long a master is unreachable before its replica takes over. Short, so a failover
   * fits in a test.
   */
  nodeTimeoutMs?: number;
}

/**
 * A throwaway Redis Cluster: 6 redis-server processes on free loopback ports (3 masters with a replica each),
 * nothing kept on disk but their cluster configuration, in a temp dir removed by `stop()`. Every process carries
 * the test run's marker, so the global teardown ends it even when `stop()` never ran.
 */
export class TestRedisCluster {
  private readonly nodes: ClusterNode[] = [];
  private readonly spawnErrors: Record<number, Error> = {};

  private constructor(private readonly dir: string) {}

  static async start(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
    const cluster = new TestRedisCluster(await mkdtemp(path.join(os.tmpdir(), 'redis-cluster-')));
    try {
      const ports = await distinctFreePorts(2 * MASTERS * (1 + REPLICAS_PER_MASTER));
      for (let i = 0; i < ports.length; i += 2) {
        cluster.nodes.push(cluster.spawnNode(ports[i]!, ports[i + 1]!, options.nodeTimeoutMs ?? 2000));
      }
      await Promise.all(cluster.nodes.map((node) => waitForPing(node.port, () => cluster.spawnErrors[node.port])));
      await run(
        'redis-cli',
        ['--cluster', 'create', ...cluster.nodes.map((node) => `${HOST}:${node.port}`), '--cluster-replicas', String(REPLICAS_PER_MASTER), '--cluster-yes'],
        { timeout: 30_000, env: { ...process.env, ...testChildEnv() } },
      );
      await cluster.waitUntilHealthy();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** REDIS_CLUSTER_NODES: every node as a seed. */
  get seeds(): string {
    return this.nodes.map((node) => `${HOST}:${node.port}`).join(',');
  }

  /** The slot a key hashes to (its hash tag's, if it has one), as Redis computes it. */
  async slotOf(key: string): Promise<number> {
    return this.ask((redis) => redis.cluster('KEYSLOT', key) as Promise<number>);
  }

  /** The master currently serving a key's slot, as the live nodes see it. */
  async masterOf(key: string): Promise<ClusterNode> {
    const slot = await this.slotOf(key);
    const port = await this.ask(async (redis) => masterPortOf(await slotRanges(redis), slot));
    return this.node(port);
  }

  /** Ends a node without warning: no shutdown, no goodbye to the cluster. */
  async kill(node: ClusterNode): Promise<void> {
    await killProcess(node.process);
  }

  /**
   * Waits until another node (the lost master's replica, promoted after `cluster-node-timeout`) serves the key's
   * slot and the cluster says it is whole again. Returns the new master.
   */
  async waitForFailover(key: string, lost: ClusterNode, timeoutMs = 30_000): Promise<ClusterNode> {
    const slot = await this.slotOf(key);
    return poll(`a new master for slot ${slot}`, timeoutMs, async () => {
      for (const node of this.liveNodes()) {
        const port = await askNode(node.port, async (redis) => {
          const ok = (await redis.cluster('INFO')).includes('cluster_state:ok');
          return ok ? masterPortOf(await slotRanges(redis), slot) : undefined;
        }).catch(() => undefined);
        if (port !== undefined && port !== lost.port) return this.node(port);
      }
      return undefined;
    });
  }

  /** Every key stored in the cluster, with its slot and the master holding it. */
  async keys(): Promise<ClusterKey[]> {
    const keys: ClusterKey[] = [];
    for (const node of this.liveNodes()) {
      await askNode(node.port, async (redis) => {
        if (!(await redis.info('replication')).includes('role:master')) return;
        for (const key of await scanAll(redis)) {
          keys.push({ key, slot: (await redis.cluster('KEYSLOT', key)) as number, port: node.port });
        }
      });
    }
    return keys;
  }

  /** Pub/sub channels with a subscriber, on any node. */
  async channels(): Promise<string[]> {
    const channels = await Promise.all(
      this.liveNodes().map((node) => askNode(node.port, (redis) => redis.pubsub('CHANNELS') as Promise<string[]>)),
    );
    return channels.flat();
  }

  /** Ends every node it started and removes their files; safe to call more than once, and after a failed start. */
  async stop(): Promise<void> {
    // Nothing on disk needs a clean shutdown.
    await Promise.all(this.nodes.map((node) => killProcess(node.process)));
    await rm(this.dir, { recursive: true, force: true });
  }

  private spawnNode(port: number, busPort: number, nodeTimeoutMs: number): ClusterNode {
    const args = [
      '--port', String(port),
      // Its own bus port: the default (port + 10000) can be taken, or past 65535 for a high free port.
      '--cluster-port', String(busPort),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', String(nodeTimeoutMs),
      '--dir', this.dir,
      '--save', '',
      '--appendonly', 'no',
      // A master otherwise waits 5 s for more replicas before it starts syncing the first.
      '--repl-diskless-sync-delay', '0',
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore', env: { ...process.env, ...testChildEnv() } });
    child.on('error', (error) => (this.spawnErrors[port] = error));
    return { port, process: child };
  }

  private async waitUntilHealthy(): Promise<void> {
    await poll('the cluster to be whole, every replica in sync', 30_000, async () => {
      for (const node of this.nodes) {
        const healthy = await askNode(node.port, async (redis) => {
          const info = await redis.cluster('INFO');
          if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${this.nodes.length}`)) return false;
          const replication = await redis.info('replication');
          return replication.includes('role:master') || replication.includes('master_link_status:up');
        }).catch(() => false);
        if (!healthy) return undefined;
      }
      return true;
    });
  }

  private liveNodes(): ClusterNode[] {
    return this.nodes.filter((node) => node.process.exitCode === null && node.process.signalCode === null);
  }

  private node(port: number): ClusterNode {
    const node = this.nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this cluster listens on ${port}`);
    return node;
  }

  /** Asks the first live node that answers. */
  private async ask<T>(question: (redis: Redis) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const node of this.liveNodes()) {
      try {
        return await askNode(node.port, question);
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no node of the cluster answered: ${String(lastError)}`);
  }
}

/** One short-lived plain connection to one node (not a cluster client: the question is about that node). */
async function askNode<T>(port: number, question: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await question(redis);
  } finally {
    redis.disconnect();
  }
}

/** CLUSTER SLOTS: `[start, end, master, ...replicas]`, each node as `[host, port, id, ...]`. */
type SlotRange = Awaited<ReturnType<typeof slotRanges>>[number];

async function slotRanges(redis: Redis) {
  return redis.cluster('SLOTS');
}

function masterPortOf(ranges: SlotRange[], slot: number): number {
  const range = ranges.find(([start, end]) => start <= slot && slot <= end);
  const master = range?.[2];
  if (!master) throw new Error(`no node serves slot ${slot}`);
  return Number(master[1]);
}

async function scanAll(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

async function waitForPing(port: number, spawnError: () => Error | undefined): Promise<void> {
  await poll(`redis-server on port ${port}`, 10_000, async () => {
    const error = spawnError();
    if (error) throw new Error(`redis-server did not start: ${error.message}`);
    return askNode(port, (redis) => redis.ping()).catch(() => undefined);
  });
}

/** Polls every 100 ms until `probe` gives a value, or fails naming what it waited for. */
async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function killProcess(child: ChildProcess): Promise<void> {
  // No pid: it never started (the spawn error is reported by the wait for its ping).
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** Free ports, none twice (a port the kernel just handed out may come again). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(HOST));
  return [...ports];
}
