import { InvalidRequestError, UnavailableError } from '@renditions/errors';
import { assertPublicDestination, ForbiddenAddressError } from '@renditions/events';
import type { Services } from './services';

/** Resolver answers meaning the name does not exist, as opposed to the resolver itself failing. */
const UNKNOWN_NAME_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/**
 * A `callback_url` must reach a public address unless WEBHOOK_ALLOW_PRIVATE is set: checked at upload so the
 * uploader hears about it at once, and checked again at every delivery (DNS may change in between).
 * @throws {InvalidRequestError} the host is or resolves to a non-public address, or does not exist
 * @throws {UnavailableError} the resolver failed
 */
export async function assertCallbackUrlAllowed(services: Pick<Services, 'config'>, callbackUrl: string): Promise<void> {
  if (services.config.webhooks.allowPrivate) return;
  try {
    await assertPublicDestination(callbackUrl);
  } catch (error) {
    if (error instanceof ForbiddenAddressError) {
      throw new InvalidRequestError(`callback_url must reach a public address: ${error.message}`);
    }
    const code = (error as { code?: string }).code ?? '';
    const host = new URL(callbackUrl).hostname;
    if (UNKNOWN_NAME_CODES.has(code)) throw new InvalidRequestError(`callback_url host "${host}" does not resolve`);
    throw new UnavailableError(`Could not resolve the callback_url host "${host}", try again shortly`, 5, { cause: error });
  }
}
