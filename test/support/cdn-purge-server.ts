import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CdnPurgeServer {
  /** http://127.0.0.1:<port>: what CDN_PURGE_URL points at. */
  url: string;
  /** `METHOD /path` of every request received, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** A real HTTP server playing the CDN's purge endpoint: records each request and answers 200. */
export async function startCdnPurgeServer(): Promise<CdnPurgeServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
