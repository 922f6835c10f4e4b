import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The shared corpus of real photos and broken files sits beside the checkout. */
export const CORPUS_DIR = path.resolve(import.meta.dirname, '../../../shared/corpus');

export function corpusPath(relative: string): string {
  return path.join(CORPUS_DIR, relative);
}

export function readCorpus(relative: string): Buffer {
  return readFileSync(corpusPath(relative));
}
