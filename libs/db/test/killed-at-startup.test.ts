import net from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../src/client';

/** What PostgreSQL sends a backend that pg_terminate_backend ends: a FATAL 57P01 ErrorResponse, then the close. */
function terminationResponse(): Buffer {
  const fields = Buffer.from('SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0', 'latin1');
  const header = Buffer.alloc(5);
  header.write('E', 0, 'latin1');
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

/**
 * A TCP proxy in front of the local PostgreSQL that, on the first connection only, answers the driver's startup query
 * for array types as a terminated backend would: deterministic, where pg_terminate_backend has to land in a window
 * of a few milliseconds (the fault test hits it now and then, under load).
 */
async function startKillingProxy(): Promise<{ port: number; killed: () => boolean; stop(): Promise<void> }> {
  let killed = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(5432, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('data', (chunk) => {
      if (!killed && chunk.includes("typcategory = 'A'")) {
        killed = true;
        client.end(terminationResponse());
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    killed: () => killed,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('a connection terminated while the driver starts it up', () => {
  let proxy: Awaited<ReturnType<typeof startKillingProxy>>;
  beforeAll(async () => {
    proxy = await startKillingProxy();
  });
  afterAll(async () => proxy?.stop());

  it('neither kills the process (an unhandled rejection) nor fails the first query with the old error', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    const { db, close } = connectDatabase(`postgres://postgres@127.0.0.1:${proxy.port}/postgres`, { max: 1 });
    try {
      const rows = await db.execute<{ answer: number }>(sql`select 42 as answer`);
      expect(proxy.killed()).toBe(true);
      expect(rows[0]?.answer).toBe(42);
      // A rejection nobody handles is reported once the microtasks and the next turn have run.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
      await close();
    }
  });
});
