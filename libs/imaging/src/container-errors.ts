/**
 * The errors of the container walkers (PNG chunks, JPEG segments), kept apart from I/O errors so the probe can
 * translate them by type: both mean "refuse this upload", an I/O error means "we failed".
 */

/** The bytes break the format's structure: a bad signature, length, CRC or marker, or data cut short. */
export class MalformedContainerError extends Error {
  override readonly name = 'MalformedContainerError';
}

/**
 * The structure is well formed but needs more walking than any real image does: a million empty IDAT chunks
 * or comment segments exist only to make a server spend its time on them.
 */
export class ContainerLimitError extends Error {
  override readonly name = 'ContainerLimitError';
}
