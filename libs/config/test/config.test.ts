import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';

describe('loadConfig', () => {
  it('works on defaults alone: local storage, localhost services', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.publicBaseUrl).toBe('http://localhost:3000');
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/renditions');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.storage).toEqual({ driver: 'local', dir: './data/objects' });
    expect(config.limits).toEqual({ maxUploadBytes: 20_971_520, maxInputPixels: 100_000_000 });
    expect(config.worker.concurrency).toBeGreaterThan(0);
    expect(config.admin).toBeNull();
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
});
