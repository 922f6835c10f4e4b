export * from './types';
export { EventBus, EventBusUnavailableError, type EventListener, type Unsubscribe } from './bus';
export { generateWebhookSecret, newEventId, signWebhook, type SignedHeaders } from './signing';
export {
  assertNotPrivateLiteral,
  assertPublicDestination,
  ForbiddenAddressError,
  guardedLookup,
  isPublicAddress,
} from './address-guard';
export { postSignedJson, type DeliveryOptions, type DeliveryResult } from './deliver';
