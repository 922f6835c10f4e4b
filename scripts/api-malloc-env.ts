/**
 * glibc malloc settings for the API: fewer arenas, and large blocks (upload buffers, libvips' header reads) mapped
 * and trimmed so they go back to the system once freed: otherwise ~60 MB freed by a burst of uploads stays
 * (scripts/bench/abuse.ts, RSS 10 s after 50 concurrent 20 MB uploads: 291 MB -> 231 MB).
 */
export const API_MALLOC_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '65536' };
