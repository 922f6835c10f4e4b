import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports';
import { testChildEnv } from './test-run';

const PGBOUNCER = '/usr/sbin/pgbouncer';
/** PgBouncer refuses to run as root: a test run as root (a container) hands it this identity. */
const UNPRIVILEGED_USER = 'nobody';

export interface PgBouncer {
  port: number;
  /** The URL of `database` through the pooler (the same database on 127.0.0.1:5432 behind it). */
  url(database: string): string;
  /** What PgBouncer logged, for a failure message. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * A private PgBouncer in transaction pooling mode on a free loopback port, in front of the machine's PostgreSQL
 * (127.0.0.1:5432, trust): every database name passes through to the same name there. Each transaction gets
 * whichever server connection is free, as in production behind PgBouncer, so anything that relies on a session
 * (a prepared statement, a session-level lock, SET, LISTEN) breaks here as it would there. `poolSize` is the
 * server connections per database, fewer than the clients' pools together, so they do get shuffled.
 */
export async function startPgBouncer(options: { poolSize?: number } = {}): Promise<PgBouncer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgbouncer-'));
  const port = await freePort();
  await writeFile(path.join(dir, 'users.txt'), '"postgres" ""\n');
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      '* = host=127.0.0.1 port=5432',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 4}`,
      'max_client_conn = 500',
      '',
    ].join('\n'),
  );
  // Readable by the unprivileged identity too.
  await chmod(dir, 0o755);
  const asRoot = process.getuid?.() === 0 ? ['-u', UNPRIVILEGED_USER] : [];
  const child = spawn(PGBOUNCER, [...asRoot, path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...testChildEnv() },
  });
  // It logs to stderr; the tail is enough for a failure message.
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const bouncer: PgBouncer = {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    log: () => log.slice(-4000),
    async stop() {
      await stopProcess(child, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitForPort(port, child);
  } catch (error) {
    await bouncer.stop();
    throw new Error(`${(error as Error).message}\n${bouncer.log()}`);
  }
  return bouncer;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited at start with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`pgbouncer did not listen on 127.0.0.1:${port}`);
}

/** SIGTERM (immediate shutdown), SIGKILL if it is still there after a second. */
async function stopProcess(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
  await exited;
  clearTimeout(timer);
}
