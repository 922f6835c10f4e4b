import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '@renditions/config';
import { renderCdnTemplate } from '../../scripts/cdn-config';
import { interpolate, loadCompose, serviceEnvironment, type ComposeService } from '../support/compose';

const ROOT = path.resolve(import.meta.dirname, '../..');
const readRepoFile = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe('compose interpolation, as docker compose does it', () => {
  const env = { SET: 'value', EMPTY: '' };
  const value = (text: string) => interpolate(text, env).value;

  it('substitutes variables, defaults and alternatives', () => {
    expect(value('a $SET b ${SET}')).toBe('a value b value');
    expect(value('$$SET costs $$5')).toBe('$SET costs $5');
    expect(value('${UNSET:-fallback} ${EMPTY:-fallback} ${SET:-fallback}')).toBe('fallback fallback value');
    expect(value('[${UNSET-fallback}] [${EMPTY-fallback}]')).toBe('[fallback] []');
    expect(value('[${SET:+alt}] [${EMPTY:+alt}] [${EMPTY+alt}] [${UNSET+alt}]')).toBe('[alt] [] [alt] []');
    expect(value('${UNSET:-${ALSO_UNSET:-deep}}')).toBe('deep');
    expect(value('${EMPTY?must be set}')).toBe('');
  });

  it('substitutes the empty string for an unset variable without a default, and reports it as compose warns', () => {
    expect(interpolate('x${UNSET}y$OTHER', env)).toEqual({ value: 'xy', unset: ['UNSET', 'OTHER'] });
    expect(interpolate('${UNSET:-}${UNSET-d}', env).unset).toEqual([]);
  });

  it('fails on a required variable without a value and on malformed syntax', () => {
    expect(() => value('${UNSET:?set it}')).toThrow('Required variable UNSET is missing a value: set it');
    expect(() => value('${EMPTY:?set it}')).toThrow('Required variable EMPTY is missing a value: set it');
    expect(() => value('${UNSET?set it}')).toThrow(/UNSET/);
    expect(() => value('cost: $5')).toThrow(/write "\$\$"/);
    expect(() => value('${SET')).toThrow(/Unclosed/);
    expect(() => value('${SET/x}')).toThrow(/Invalid substitution/);
  });
});

describe('docker-compose.yml, for a host with no environment and no .env', () => {
  const { file, unset } = loadCompose(path.join(ROOT, 'docker-compose.yml'), {});
  const { services } = file;
  const service = (name: string): ComposeService => {
    expect(services, `service ${name}`).toHaveProperty(name);
    return services[name]!;
  };
  const configOf = (name: string): Config => loadConfig(serviceEnvironment(service(name), {}));
  const env = (name: string) => serviceEnvironment(service(name), {});
  const APP_SERVICES = ['api', 'worker', 'migrate'];
  /** deploy/nginx/cdn.conf as the cdn container runs it: the template filled in from the service's environment. */
  const renderedCdnConf = () => renderCdnTemplate(readRepoFile('deploy/nginx/cdn.conf'), env('cdn'));

  it('uses no variable that is unset without a default (compose would warn and pass an empty string)', () => {
    expect(unset).toEqual([]);
  });

  it('has the stack the README promises: api, workers, the CDN, redis, postgres, minio and its bucket', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'cdn', 'migrate', 'minio', 'minio-setup', 'postgres', 'redis', 'worker']);
    expect(service('worker').deploy?.replicas).toBeGreaterThanOrEqual(2);
  });

  it('gives the api, the workers and the migrations a configuration that parses', () => {
    for (const name of APP_SERVICES) expect(() => configOf(name), name).not.toThrow();
  });

  it('points every app at the services of this file, with their credentials', () => {
    const postgresEnv = env('postgres');
    const minioEnv = env('minio');
    const bucketCreation = String(service('minio-setup').entrypoint);
    for (const name of APP_SERVICES) {
      const config = configOf(name);
      const database = new URL(config.databaseUrl);
      expect([database.hostname, database.port, database.username, database.password, database.pathname], name).toEqual([
        'postgres',
        '5432',
        'postgres',
        postgresEnv.POSTGRES_PASSWORD,
        `/${postgresEnv.POSTGRES_DB}`,
      ]);
      expect(new URL(config.redisUrl).hostname, name).toBe('redis');
      expect(config.storage, name).toMatchObject({
        driver: 's3',
        s3: {
          endpoint: 'http://minio:9000',
          accessKeyId: minioEnv.MINIO_ROOT_USER,
          secretAccessKey: minioEnv.MINIO_ROOT_PASSWORD,
          forcePathStyle: true,
        },
      });
      if (config.storage.driver !== 's3') continue;
      // The bucket the app writes to is the one minio-setup creates, with the same credentials.
      expect(bucketCreation, name).toContain(`mc alias set local http://minio:9000 ${minioEnv.MINIO_ROOT_USER} ${minioEnv.MINIO_ROOT_PASSWORD}`);
      expect(bucketCreation, name).toContain(`mc mb --ignore-existing local/${config.storage.s3.bucket}`);
    }
  });

  it('hands out URLs of the CDN, and purges it where nginx answers', () => {
    const cdnPort = service('cdn').ports?.map((mapping) => mapping.split(':')).find((parts) => parts.at(-1) === '80')?.at(-2);
    expect(renderedCdnConf()).toMatch(/^\s*listen 80;$/m);
    for (const name of ['api', 'worker']) {
      const config = configOf(name);
      expect(config.publicBaseUrl, name).toBe(`http://localhost:${cdnPort}`);
      expect(config.cdnPurgeUrl, name).toBe('http://cdn');
    }
  });

  it('has nginx proxy to the port the api listens on, where its health check and published port look', () => {
    const { port } = configOf('api');
    const upstreams = [...renderedCdnConf().matchAll(/proxy_pass (\S+);/g)].map((match) => match[1]);
    expect(new Set(upstreams)).toEqual(new Set([`http://api:${port}`]));
    expect(String(service('api').healthcheck?.test)).toContain(`http://127.0.0.1:${port}/readyz`);
    expect(service('api').ports?.map((mapping) => mapping.split(':').at(-1))).toEqual([String(port)]);
  });

  it('takes the client address from the CDN hop only, so no client can choose its own with X-Forwarded-For', async () => {
    // The client address as the api reads it, for a request that came through nginx (which appends its peer).
    const app = express().set('trust proxy', configOf('api').edge.trustProxy);
    app.get('/', (req, res) => res.send(req.ip));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const ipOf = async (forwardedFor: string) =>
        (await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-forwarded-for': forwardedFor } })).text();
      // A client on a private network (an office LAN) sends a forged header; nginx appends its real address.
      expect(await ipOf('203.0.113.9, 192.168.1.23')).toBe('192.168.1.23');
      expect(await ipOf('198.51.100.7')).toBe('198.51.100.7');
    } finally {
      server.close();
    }
    // Anyone reaching the api's own port directly could forge the header: it is published on the host's loopback only.
    expect(service('api').ports?.every((mapping) => mapping.startsWith('127.0.0.1:'))).toBe(true);
  });

  it('runs npm scripts that exist, after the services each one needs', () => {
    const scripts = (JSON.parse(readRepoFile('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const name of APP_SERVICES) {
      const [npm, run, script] = service(name).command as string[];
      expect([npm, run], name).toEqual(['npm', 'run']);
      expect(scripts, name).toHaveProperty(script!);
    }
    for (const [name, { depends_on: dependsOn }] of Object.entries(services)) {
      for (const dependency of Object.keys(dependsOn ?? {})) expect(services, `${name} depends on ${dependency}`).toHaveProperty(dependency);
    }
    const completed = { condition: 'service_completed_successfully' };
    const healthy = { condition: 'service_healthy' };
    expect(service('migrate').depends_on).toEqual({ postgres: healthy });
    for (const name of ['api', 'worker']) {
      expect(service(name).depends_on, name).toMatchObject({ migrate: completed, redis: healthy, 'minio-setup': completed });
    }
    expect(service('minio-setup').depends_on).toEqual({ minio: healthy });
    expect(service('cdn').depends_on).toEqual({ api: healthy });
  });

  it('mounts files that exist, where nginx includes them from', () => {
    const mounts = service('cdn').volumes!.map((volume) => volume.split(':'));
    for (const [source] of mounts) expect(existsSync(path.join(ROOT, source!)), source).toBe(true);
    const mounted = new Map(mounts.map(([source, target]) => [target, path.normalize(source!)]));
    // The template the image's entrypoint renders into conf.d (deploy/nginx/docker-entrypoint.sh).
    expect(mounted.get('/etc/nginx/templates/cdn.conf')).toBe('deploy/nginx/cdn.conf');
    expect(readRepoFile('deploy/nginx/docker-entrypoint.sh')).toMatch(/^template=\/etc\/nginx\/templates\/cdn\.conf$/m);
    // A relative include is read from nginx.conf's directory, /etc/nginx in the official image.
    for (const [, include] of readRepoFile('deploy/nginx/cdn.conf').matchAll(/^\s*include (\S+);/gm)) {
      expect(mounted.get(path.posix.join('/etc/nginx', include!)), include).toBe(path.normalize(`deploy/nginx/${path.basename(include!)}`));
    }
  });

  it("runs the CDN on the nginx `npm run cdn` runs: Debian's, with the purge module cdn.conf needs", () => {
    expect(service('cdn').build).toBe('deploy/nginx');
    const dockerfile = readRepoFile('deploy/nginx/Dockerfile');
    expect(dockerfile).toMatch(/^FROM debian:bookworm/m);
    const ciPackages = readRepoFile('.ci/system-packages').split('\n');
    for (const pkg of ['nginx', 'libnginx-mod-http-cache-purge']) {
      expect(dockerfile, pkg).toMatch(new RegExp(`install [^\\n]*\\b${pkg}\\b`));
      expect(ciPackages, pkg).toContain(pkg);
    }
    expect(readRepoFile('deploy/nginx/cdn.conf')).toMatch(/proxy_cache_purge /);
  });

  it('builds an image in which npm ci sees every workspace', () => {
    for (const name of APP_SERVICES) expect(service(name).build, name).toBe('.');
    const copied = new Set([...readRepoFile('Dockerfile').matchAll(/^COPY (\S+) /gm)].map((match) => match[1]));
    const workspaces = ['apps', 'libs'].flatMap((folder) =>
      readdirSync(path.join(ROOT, folder)).map((name) => `${folder}/${name}/package.json`),
    );
    expect(workspaces.filter((workspace) => existsSync(path.join(ROOT, workspace)) && !copied.has(workspace))).toEqual([]);
  });

  it('lets the api and the workers finish their graceful shutdown before docker kills them', () => {
    const seconds = (duration = '10s') => {
      const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
      expect(match, duration).not.toBeNull();
      return Number(match![1] ?? 0) * 60 + Number(match![2] ?? 0);
    };
    for (const name of ['api', 'worker']) {
      expect(seconds(service(name).stop_grace_period), name).toBeGreaterThan(configOf(name).shutdownTimeoutMs / 1000);
    }
  });
});
