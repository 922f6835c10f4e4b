import { createServer } from 'node:net';

/** A port the kernel says is free now, for a process that cannot take port 0 (a spawned server, redis-server). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
