import type { ObjectStorage } from '@renditions/storage';

/** The real storage with some of its calls replaced, for a test that decides what one call does. */
export function storageWith(real: ObjectStorage, overrides: Partial<ObjectStorage>): ObjectStorage {
  return new Proxy(real, {
    get: (target, property: keyof ObjectStorage) => {
      const value = overrides[property] ?? target[property];
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
