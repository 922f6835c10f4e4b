export * from './types';
export { EventBus, type EventListener } from './bus';
export { generateWebhookSecret, newEventId, signWebhook, type SignedHeaders } from './signing';
export { ForbiddenAddressError, guardedLookup, isObviouslyPrivateHost, isPublicAddress } from './address-guard';
export { postSignedJson, type DeliveryOptions, type DeliveryResult } from './deliver';
