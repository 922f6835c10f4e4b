/**
 * How `npm start` runs each process, shared with the benchmarks so they measure the processes as deployed.
 */
import { existsSync } from 'node:fs';

/**
 * glibc malloc settings for the API: fewer arenas, and large blocks (upload buffers, libvips' header reads) mapped
 * and trimmed so they go back to the system once freed: otherwise ~60 MB freed by a burst of uploads stays
 * (scripts/bench/abuse.ts, RSS 10 s after 50 concurrent 20 MB uploads: 291 MB -> 231 MB).
 */
export const API_MALLOC_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '65536' };

/** The worker runs at a lower CPU priority, so uploads stay fast while renditions saturate the cores. */
export const WORKER_NICENESS = 10;

// jemalloc keeps sharp's memory flat under load (see BASELINE.md); used when the system has it.
const JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';
export const WORKER_HAS_JEMALLOC = existsSync(JEMALLOC);

/** The worker's allocator: jemalloc preloaded when the system has it. */
export const WORKER_MALLOC_ENV: NodeJS.ProcessEnv = WORKER_HAS_JEMALLOC ? { LD_PRELOAD: JEMALLOC } : {};
