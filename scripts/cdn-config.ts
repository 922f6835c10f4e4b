/**
 * deploy/nginx/cdn.conf is one template for both CDNs: docker compose's (deploy/nginx/docker-entrypoint.sh fills it
 * in) and `npm run cdn`'s (this file). Both substitute its `${CDN_*}` placeholders and nothing else, so nginx's own
 * `$variables` stay as they are; a placeholder without a value stops either one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const DEPLOY_NGINX_DIR = path.resolve(import.meta.dirname, '../deploy/nginx');

/** What the template leaves open: where nginx listens, the API it proxies to, and where it keeps the cache. */
interface CdnTemplateValues {
  /** A `listen` value: `80`, `8080` or `127.0.0.1:8080`. */
  CDN_LISTEN: string;
  /** The API's base URL, as proxy_pass takes it: `http://api:3000`. */
  CDN_ORIGIN: string;
  /** Directory of the cache (proxy_cache_path). */
  CDN_CACHE_DIR: string;
}

const PLACEHOLDER = /\$\{(CDN_[A-Z_]+)\}/g;

/**
 * The template with each `${CDN_*}` replaced by its value in `env` (CdnTemplateValues, or a container's environment
 * as docker-entrypoint.sh reads it).
 * @throws {Error} naming a placeholder that has no value
 * @example renderCdnTemplate('listen ${CDN_LISTEN};', { CDN_LISTEN: '8080' }) // 'listen 8080;'
 */
export function renderCdnTemplate(template: string, env: Readonly<Record<string, string | undefined>>): string {
  return template.replace(PLACEHOLDER, (_placeholder, name: string) => {
    const value = env[name];
    if (!value) throw new Error(`Expected a value for \${${name}} in deploy/nginx/cdn.conf but received ${JSON.stringify(value)}`);
    return value;
  });
}

/** The nginx binary: Debian installs it in /usr/sbin, which a non-root PATH often lacks. */
export function findNginx(): string {
  return ['/usr/sbin/nginx', '/usr/local/sbin/nginx'].find((candidate) => existsSync(candidate)) ?? 'nginx';
}

const PURGE_MODULE = 'ngx_http_cache_purge_module.so';

/**
 * The ngx_cache_purge module built for this nginx (Debian: libnginx-mod-http-cache-purge), in the modules directory
 * nginx was built with; undefined when it is not installed.
 */
export function findPurgeModule(nginx: string): string | undefined {
  const built = spawnSync(nginx, ['-V'], { encoding: 'utf8' });
  const modulesDir = /--modules-path=(\S+)/.exec(`${built.stderr}${built.stdout}`)?.[1] ?? '/usr/lib/nginx/modules';
  const module = path.join(modulesDir, PURGE_MODULE);
  return existsSync(module) ? module : undefined;
}

export interface CdnRuntime {
  /** Holds the rendered configuration, the cache, temp files, the pid and the logs (nginx's -p prefix). */
  dir: string;
  listen: string;
  origin: string;
  purgeModule: string;
}

/**
 * Writes what `nginx -c <returned file> -p <dir>` runs: cdn.conf rendered, limits.conf beside it (a relative
 * include is read from nginx.conf's directory, as in the official layout), and a minimal nginx.conf that gives them
 * the main and http contexts a distribution's nginx.conf would, with every path inside `dir` so no root is needed.
 */
export async function writeCdnConfig(runtime: CdnRuntime): Promise<string> {
  const { dir } = runtime;
  // nginx makes the last directory of each path itself, not its parents.
  await mkdir(path.join(dir, 'temp'), { recursive: true });
  const template = await readFile(path.join(DEPLOY_NGINX_DIR, 'cdn.conf'), 'utf8');
  const values: CdnTemplateValues = { CDN_LISTEN: runtime.listen, CDN_ORIGIN: runtime.origin, CDN_CACHE_DIR: path.join(dir, 'cache') };
  const cdn = renderCdnTemplate(template, { ...values });
  await writeFile(path.join(dir, 'cdn.conf'), cdn);
  await copyFile(path.join(DEPLOY_NGINX_DIR, 'limits.conf'), path.join(dir, 'limits.conf'));
  const temp = (name: string) => `${name}_temp_path ${path.join(dir, 'temp', name)};`;
  const main = [
    `load_module ${runtime.purgeModule};`,
    'worker_processes auto;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    `  access_log ${path.join(dir, 'access.log')};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `  ${temp(name)}`),
    '  include cdn.conf;',
    '}',
    '',
  ].join('\n');
  const file = path.join(dir, 'nginx.conf');
  await writeFile(file, main);
  return file;
}

/**
 * How nginx runs a written configuration. `-e` names the error log nginx writes before it has read the one in the
 * configuration (else the build's default, /var/log/nginx, which only root may open).
 */
export function nginxArguments(configFile: string, dir: string): string[] {
  return ['-c', configFile, '-p', dir, '-e', path.join(dir, 'error.log')];
}

/** `nginx -t` on a written configuration: nginx's complaint, or undefined when it accepts it. */
export function checkCdnConfig(nginx: string, configFile: string, dir: string): string | undefined {
  const result = spawnSync(nginx, ['-t', '-q', ...nginxArguments(configFile, dir)], { encoding: 'utf8' });
  return result.status === 0 ? undefined : result.stderr || `nginx -t exited with ${result.status}`;
}
