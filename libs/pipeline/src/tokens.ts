import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const IMAGE_ID_LENGTH = 7;

/** Imgur-style public id: 7 base62 characters (62^7 ≈ 3.5e12). */
export function newImageId(): string {
  let id = '';
  for (let i = 0; i < IMAGE_ID_LENGTH; i += 1) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** What an image id can be: exactly IMAGE_ID_LENGTH characters of the alphabet (also the OpenAPI document's rule). */
export const IMAGE_ID_PATTERN = new RegExp(`^[${ID_ALPHABET}]{${IMAGE_ID_LENGTH}}$`);

export function isWellFormedImageId(id: string): boolean {
  return IMAGE_ID_PATTERN.test(id);
}

export function newDeleteToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Only a hash of the delete token is stored, so a database leak does not hand out delete rights. */
export function hashDeleteToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function deleteTokenMatches(token: string, storedHash: string): boolean {
  const given = Buffer.from(hashDeleteToken(token), 'hex');
  const expected = Buffer.from(storedHash, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function strongEtag(data: Buffer): string {
  return `"${createHash('sha256').update(data).digest('base64url').slice(0, 32)}"`;
}

/** An asset generation's id: random, so a new generation of the same bytes never shares keys or job ids with an old one. */
export function newAssetId(): string {
  return randomBytes(10).toString('hex');
}
