import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CORPUS_DIR } from '../../../test/support/corpus';

/** The repository's test corpus (test/fixtures/corpus/): the one root every test and benchmark reads. */
export { CORPUS_DIR };

export function corpusPath(relative: string): string {
  return path.join(CORPUS_DIR, relative);
}

export function readCorpus(relative: string): Buffer {
  return readFileSync(corpusPath(relative));
}

/** Relative paths of every file in one corpus folder, sorted. */
export function corpusFiles(folder: 'bad' | 'formats' | 'orientation' | 'photos' | 'kodak'): string[] {
  return readdirSync(corpusPath(folder))
    .sort()
    .map((name) => `${folder}/${name}`);
}

/** Corpus files that must be accepted: every file of these folders except the ones known to be refused. */
export const REFUSED_VALID_LOOKING = new Set(['formats/IMG_5195.HEIC', 'formats/testimgl.jpg']);

export function acceptedCorpusFiles(): string[] {
  return (['formats', 'photos', 'orientation', 'kodak'] as const)
    .flatMap((folder) => corpusFiles(folder))
    .filter((file) => !REFUSED_VALID_LOOKING.has(file));
}
