import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';

describe('loadConfig', () => {
  it('works on defaults alone: local storage, localhost services', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.publicBaseUrl).toBe('http://localhost:3000');
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/renditions');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.storage).toEqual({ driver: 'local', dir: './data/objects', timeoutMs: 30_000 });
    expect(config.sweep).toEqual({ intervalMs: 3_600_000, graceMs: 3_600_000 });
    expect(config.limits).toMatchObject({ maxUploadBytes: 20_971_520, maxInputPixels: 100_000_000 });
    expect(config.worker.concurrency).toBeGreaterThan(0);
    expect(config.admin).toBeNull();
  });

  it('reads the edge limits, TRUST_PROXY as express takes it', () => {
    expect(loadConfig({}).edge).toMatchObject({ trustProxy: false, uploadsPerMinute: 30 });
    expect(loadConfig({}).edge.maxConcurrentUploads).toBeGreaterThan(0);
    expect(loadConfig({ TRUST_PROXY: 'true' }).edge.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).edge.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).edge.trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(loadConfig({ RATE_LIMIT_UPLOADS_PER_MINUTE: '0' }).edge.uploadsPerMinute).toBe(0);
  });

  it('takes an empty WEBHOOK_SECRET as unset (compose passes ${WEBHOOK_SECRET:-}), and refuses a malformed one', () => {
    expect(loadConfig({ WEBHOOK_SECRET: '' }).webhooks.secret).toBeNull();
    expect(() => loadConfig({ WEBHOOK_SECRET: 'nope' })).toThrow(/WEBHOOK_SECRET: expected whsec_/);
  });

  it('derives PUBLIC_BASE_URL from PORT and trims a trailing slash', () => {
    expect(loadConfig({ PORT: '8080' }).publicBaseUrl).toBe('http://localhost:8080');
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://img.example.com/' }).publicBaseUrl).toBe('https://img.example.com');
  });

  it('reads the S3 driver settings', () => {
    const config = loadConfig({
      STORAGE_DRIVER: 's3',
      S3_BUCKET: 'images',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_FORCE_PATH_STYLE: 'true',
    });
    expect(config.storage).toMatchObject({ driver: 's3', s3: { bucket: 'images', forcePathStyle: true } });
  });

  it('keeps admin routes closed when the password is unset or empty', () => {
    expect(loadConfig({ ADMIN_USER: 'admin' }).admin).toBeNull();
    expect(loadConfig({ ADMIN_USER: 'admin', ADMIN_PASSWORD: '' }).admin).toBeNull();
    expect(loadConfig({ ADMIN_USER: 'admin', ADMIN_PASSWORD: 'pw' }).admin).toEqual({ user: 'admin', password: 'pw' });
  });

  it('stops with a message naming every bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', STORAGE_DRIVER: 's3' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', MAX_UPLOAD_BYTES: '-1', STORAGE_DRIVER: 'ftp' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT');
      expect(message).toContain('MAX_UPLOAD_BYTES');
      expect(message).toContain('STORAGE_DRIVER');
    }
    expect(() => loadConfig({ STORAGE_DRIVER: 's3' })).toThrow(/S3_BUCKET/);
  });

  it('gives the worker a metrics port unless WORKER_METRICS_PORT=0 turns it off', () => {
    expect(loadConfig({}).worker.metricsPort).toBe(9464);
    expect(loadConfig({ WORKER_METRICS_PORT: '9500' }).worker.metricsPort).toBe(9500);
    expect(loadConfig({ WORKER_METRICS_PORT: '0' }).worker.metricsPort).toBeNull();
    expect(() => loadConfig({ WORKER_METRICS_PORT: '70000' })).toThrow(/WORKER_METRICS_PORT/);
  });

  it('retries webhooks at least 5 times with a 2 s base backoff unless told otherwise', () => {
    expect(loadConfig({}).webhooks).toEqual({
      secret: null,
      allowPrivate: false,
      timeoutMs: 10_000,
      attempts: 8,
      backoffMs: 2000,
    });
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(
      loadConfig({ WEBHOOK_SECRET: secret, WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_ATTEMPTS: '5', WEBHOOK_BACKOFF_MS: '250' })
        .webhooks,
    ).toMatchObject({ secret, allowPrivate: true, attempts: 5, backoffMs: 250 });
    expect(() => loadConfig({ WEBHOOK_ATTEMPTS: '4' })).toThrow(/WEBHOOK_ATTEMPTS/);
    expect(() => loadConfig({ WEBHOOK_BACKOFF_MS: '0' })).toThrow(/WEBHOOK_BACKOFF_MS/);
    expect(() => loadConfig({ WEBHOOK_SECRET: 'hunter2' })).toThrow(/WEBHOOK_SECRET/);
  });
});
