/**
 * deletePrefix('') would empty the whole store and deletePrefix('assets/ab') every asset whose id starts
 * with "ab": only a whole folder may go.
 */
export function assertDeletablePrefix(prefix: string): void {
  if (!prefix.endsWith('/')) {
    throw new Error(`Refusing to delete under "${prefix}": the prefix must be a folder, non-empty and ending with '/'`);
  }
}
