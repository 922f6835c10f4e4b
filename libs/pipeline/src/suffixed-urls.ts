import { RENDITION_SIZES, type RenditionSize } from '@renditions/imaging';
import { ID_ALPHABET, IMAGE_ID_LENGTH } from './tokens';

/**
 * Imgur's thumbnail URLs name the size by one letter after the id: `/i/k3J9xQ2m.jpg` is `/i/k3J9xQ2/m.jpg`. Ids
 * are exactly IMAGE_ID_LENGTH characters, so only a name one character longer can be one; a 7-character name is
 * always an id, even when it ends in a size letter.
 */
export const SUFFIXED_NAME_PATTERN = new RegExp(`^([${ID_ALPHABET}]{${IMAGE_ID_LENGTH}})([${RENDITION_SIZES.join('')}])$`);

/** The id and size an Imgur-style name stands for, or undefined when the name is not one. */
export function parseSuffixedName(name: string): { id: string; size: RenditionSize } | undefined {
  const match = SUFFIXED_NAME_PATTERN.exec(name);
  return match ? { id: match[1]!, size: match[2] as RenditionSize } : undefined;
}
