import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type OriginRoutes = Record<string, (req: IncomingMessage, res: ServerResponse) => void>;

export interface ImageOrigin {
  /** e.g. http://127.0.0.1:54321 */
  url: string;
  /** Paths requested so far, in order. */
  requested: string[];
  stop(): Promise<void>;
}

/** A website on loopback that `type=url` uploads fetch from: each path answers as its route says, others 404. */
export async function startImageOrigin(routes: OriginRoutes): Promise<ImageOrigin> {
  const requested: string[] = [];
  const server = createServer((req, res) => {
    requested.push(req.url ?? '');
    const route = routes[req.url ?? ''];
    if (route) route(req, res);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requested,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const serveBytes =
  (body: Buffer, contentType: string) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': contentType, 'content-length': body.length }).end(body);
  };

export const redirectTo =
  (location: string) =>
  (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(302, { location }).end();
  };
