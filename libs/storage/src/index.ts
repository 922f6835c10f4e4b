import type { Config } from '@renditions/config';
import { LocalStorage } from './local';
import { S3Storage } from './s3';
import type { ObjectStorage } from './types';

export type { ByteRange, ListedObject, ObjectInfo, ObjectStorage, PutOptions } from './types';
export type { DeadlineOptions } from './deadline';
export { withDeadline } from './deadline';
export { ObjectNotFoundError, StorageUnavailableError } from './errors';
export { LocalStorage } from './local';
export { S3Storage } from './s3';

export function createStorage(config: Config['storage']): ObjectStorage {
  const options = { timeoutMs: config.timeoutMs };
  return config.driver === 's3' ? new S3Storage(config.s3, options) : new LocalStorage(config.dir, options);
}
