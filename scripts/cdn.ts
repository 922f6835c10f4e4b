/**
 * `npm run cdn`: nginx (Debian's, with libnginx-mod-http-cache-purge) as the caching CDN in front of the API at
 * http://127.0.0.1:$PORT, on CDN_PORT, with deploy/nginx/cdn.conf: the file docker compose runs, rendered for these
 * two ports. Everything it writes (configuration, cache, temp files, pid, logs) goes to ./data/cdn. Runs in the
 * foreground until SIGINT or SIGTERM, which it passes on to nginx.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@renditions/config';
import { checkCdnConfig, findNginx, findPurgeModule, nginxArguments, writeCdnConfig } from './cdn-config';

const RUNTIME_DIR = path.resolve('data/cdn');
const LISTENING_TIMEOUT_MS = 10_000;

const config = loadConfig();
const nginx = findNginx();
const purgeModule = findPurgeModule(nginx);
if (!purgeModule) {
  console.error(`cdn: ${nginx} has no ngx_cache_purge module; install nginx and libnginx-mod-http-cache-purge (Debian)`);
  process.exit(1);
}

const origin = `http://127.0.0.1:${config.port}`;
const configFile = await writeCdnConfig({ dir: RUNTIME_DIR, listen: String(config.cdnPort), origin, purgeModule });
const problem = checkCdnConfig(nginx, configFile, RUNTIME_DIR);
if (problem) {
  console.error(`cdn: nginx refuses ${configFile}:\n${problem}`);
  process.exit(1);
}

const child = spawn(nginx, [...nginxArguments(configFile, RUNTIME_DIR), '-g', 'daemon off;'], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // nginx stops at once on either: open connections are closed, not drained.
  process.on(signal, () => child.kill(signal));
}
// nginx exits 0 after a SIGINT or SIGTERM; anything else (a crash) is a failure.
child.once('exit', (code) => process.exit(code ?? 1));

const cdnUrl = `http://localhost:${config.cdnPort}`;
if (await listening(config.cdnPort)) {
  console.log(`CDN on ${cdnUrl}/ in front of the API at ${origin} (cache and logs in ${RUNTIME_DIR})`);
  console.log(`Start the API and the workers with PUBLIC_BASE_URL=${cdnUrl} CDN_PURGE_URL=http://127.0.0.1:${config.cdnPort}`);
} else if (child.exitCode === null) {
  console.error(`cdn: nginx does not accept connections on ${cdnUrl} yet; see ${path.join(RUNTIME_DIR, 'error.log')}`);
}

/** Whether nginx accepts connections on the port before the time runs out (false as soon as it exited). */
async function listening(port: number): Promise<boolean> {
  const deadline = Date.now() + LISTENING_TIMEOUT_MS;
  while (child.exitCode === null && Date.now() < deadline) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true))).once('error', () => resolve(false));
    });
    if (accepted) return true;
    await sleep(100);
  }
  return false;
}
