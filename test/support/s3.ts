import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** The slice of s3rver's API we use; the package ships no type declarations. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer: Server;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('@20minutes/s3rver') as S3rverConstructor;

export interface S3TestServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Creates a fresh bucket so each test owns its data; returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Calls `listener` with every request the server receives from now on, until the returned function is called. */
  watchRequests(listener: (request: S3Request) => void): () => void;
  stop(): Promise<void>;
}

/** A request as it reached the server: the method, and the path with its query (`/bucket/key?x-id=PutObject`). */
export interface S3Request {
  method: string;
  url: string;
}

/** Starts an in-process S3-compatible server on a free port, storing into a throwaway directory. */
export async function startS3Server(): Promise<S3TestServer> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    // s3rver's SigV4 check rejects requests from SDK v3 that real S3 accepts.
    allowMismatchedSignatures: true,
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  // s3rver's built-in account.
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const region = 'us-east-1';
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials });

  let stopped = false;
  return {
    endpoint,
    region,
    ...credentials,
    async createBucket(name = `test-${randomUUID()}`) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    watchRequests(listener) {
      const onRequest = (request: IncomingMessage) => listener({ method: request.method ?? '', url: request.url ?? '' });
      server.httpServer.on('request', onRequest);
      return () => server.httpServer.off('request', onRequest);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      // close() waits for keep-alive sockets that clients under test may still hold open.
      server.httpServer.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
