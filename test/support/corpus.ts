import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Test fixtures kept in the repository, so a plain clone runs the tests (nothing is read from outside it). */
export const FIXTURES_DIR = path.resolve(import.meta.dirname, '../fixtures');

/**
 * The corpus of real photos and broken files: test/fixtures/corpus/, with MANIFEST.tsv (one row a file) and
 * LICENSES.md (licence and attribution of each file). Every reader (tests, libs' tests, benchmarks) uses this root.
 */
export const CORPUS_DIR = path.join(FIXTURES_DIR, 'corpus');

export function corpusPath(relative: string): string {
  return path.join(CORPUS_DIR, relative);
}

export function readCorpus(relative: string): Buffer {
  return readFileSync(corpusPath(relative));
}
