/**
 * The part of the published `imgur` 2.x client (installed as `imgur-v2`) the tests use. It ships its types in
 * dist/index.d.ts but names them only in `types`, not in its `exports` map, so TypeScript's bundler resolution
 * cannot find them; these mirror dist/client.d.ts.
 */
declare module 'imgur-v2' {
  import type { ReadStream } from 'node:fs';

  interface ImgurApiResponse<T> {
    data: T;
    status: number;
    success: boolean;
  }
  type ImageData = Record<string, unknown> & { id: string; link: string; deletehash?: string };

  export class ImgurClient {
    constructor(credentials: { clientId?: string; rapidApiHost?: string; rapidApiKey?: string });
    upload(payload: {
      image: string | Buffer | ReadStream;
      type?: 'stream' | 'url' | 'base64';
      title?: string;
      description?: string;
    }): Promise<ImgurApiResponse<ImageData>>;
    getImage(imageHash: string): Promise<ImgurApiResponse<ImageData>>;
    deleteImage(imageHash: string): Promise<ImgurApiResponse<boolean>>;
  }
}
