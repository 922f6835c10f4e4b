import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkCdnConfig, findNginx, findPurgeModule, nginxArguments, writeCdnConfig } from '../../scripts/cdn-config';
import { freePort } from './ports';
import { testChildEnv } from './test-run';

const NGINX = findNginx();
const PURGE_MODULE = findPurgeModule(NGINX);
/** Debian's nginx with its ngx_cache_purge module (.ci/system-packages): what `npm run cdn` runs. */
export const nginxInstalled = PURGE_MODULE !== undefined;

export interface NginxCdn {
  /** http://127.0.0.1:<port>: the CDN in front of the origin. */
  url: string;
  /** Where nginx keeps its cached copies (see readCacheEntry). */
  cacheDir: string;
  /** What nginx logged (warnings and worse) so far. */
  errorLog(): Promise<string>;
  /** False once nginx has exited: a crash ends it, as it runs as one process. */
  running(): boolean;
  stop(): Promise<void>;
}

/** The upstream group several origins are balanced over (a name in place of the origin's URL). */
const ORIGINS_UPSTREAM = 'renditions_origins';

/**
 * The configuration `npm run cdn` writes (scripts/cdn-config.ts), on a loopback port, in front of one origin or
 * several. Several are one upstream group, declared before the rendered cdn.conf: the template proxies to whatever
 * `${CDN_ORIGIN}` names, as compose's `http://api:3000` reaches every replica of the api service.
 */
async function writeConfig(dir: string, origins: string | readonly string[], port: number): Promise<string> {
  const urls = typeof origins === 'string' ? [origins] : origins;
  if (urls.length === 0) throw new Error('Expected at least one origin URL for the nginx CDN but received none');
  const origin = urls.length === 1 ? urls[0]! : `http://${ORIGINS_UPSTREAM}`;
  const config = await writeCdnConfig({ dir, listen: `127.0.0.1:${port}`, origin, purgeModule: PURGE_MODULE! });
  if (urls.length > 1) {
    // writeCdnConfig writes the rendered template as cdn.conf beside nginx.conf, which includes it in `http`.
    const cdn = path.join(dir, 'cdn.conf');
    const servers = urls.map((url) => `  server ${new URL(url).host};`).join('\n');
    await writeFile(cdn, `upstream ${ORIGINS_UPSTREAM} {\n${servers}\n}\n\n${await readFile(cdn, 'utf8')}`);
  }
  return config;
}

/** `nginx -t` on the configuration `npm run cdn` writes: the error output, or undefined when nginx accepts it. */
export async function checkNginxConfig(originUrl: string): Promise<string | undefined> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nginx-check-'));
  try {
    return checkCdnConfig(NGINX, await writeConfig(dir, originUrl, await freePort()), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs nginx with deploy/nginx/cdn.conf in front of `origins` (one API's URL, or several balanced round robin), in
 * the foreground, as a child of the test, on `port` (one the test chose, e.g. for the origin's CDN_PURGE_URL) or a
 * free one.
 */
export async function startNginxCdn(origins: string | readonly string[], options: { port?: number } = {}): Promise<NginxCdn> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nginx-cdn-'));
  const port = options.port ?? (await freePort());
  const config = await writeConfig(dir, origins, port);
  // One process instead of a master and workers: those overwrite their environment with their process title,
  // which would hide the marker the global teardown finds a leftover nginx by.
  const child = spawn(NGINX, [...nginxArguments(config, dir), '-g', 'daemon off; master_process off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...testChildEnv() },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const exitedEarly = child.exitCode !== null || child.signalCode !== null;
    const up = !exitedEarly && (await fetch(`${url}/healthz`).then((response) => response.ok, () => false));
    if (up) break;
    if (exitedEarly || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer on ${url} (exit ${child.exitCode ?? child.signalCode}): ${stderr}`);
    }
    await sleep(100);
  }
  return {
    url,
    cacheDir: path.join(dir, 'cache'),
    errorLog: () => readFile(path.join(dir, 'error.log'), 'utf8'),
    running: () => child.exitCode === null && child.signalCode === null,
    stop,
  };
}
