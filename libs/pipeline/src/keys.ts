/** Deterministic storage keys: originals are content-addressed, so a retried write lands on the same object. */
export const storageKeys = {
  original: (sha256: string) => `originals/${sha256}`,
  stripped: (sha256: string, ext: string) => `stripped/${sha256}.${ext}`,
  rendition: (sha256: string, size: string, format: string) => `renditions/${sha256}/${size}.${format}`,
};
