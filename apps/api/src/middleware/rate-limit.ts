import type { RequestHandler, Response } from 'express';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import { RateLimitedError } from '@renditions/errors';
import type { Services } from '@renditions/pipeline';
import { addressKeyOf, clientKey } from './client-key';

const WINDOW_SECONDS = 60;
/** The policy's name in the RateLimit fields. */
const POLICY = 'uploads';
/**
 * A Client-ID is whatever the client says it is, so one address sending a new one each time would never meet its
 * quota: uploads that name a Client-ID also count against their address, with room for this many clients behind
 * one address (an office behind NAT).
 */
const CLIENTS_PER_ADDRESS = 10;
/** A Redis that answers slower than this counts as down for this request (the in-memory count decides). */
const REDIS_TIMEOUT_MS = 500;

/**
 * The contract's rate-limit fields, in the syntax of the current IETF draft, draft-ietf-httpapi-ratelimit-headers-10
 * (structured fields, unchanged since -08): `RateLimit-Policy: "uploads";q=30;w=60` (quota per window, seconds) and
 * `RateLimit: "uploads";r=27;t=42` (remaining in this window, seconds until it resets).
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
function setRateLimitFields(res: Response, quota: number, state: RateLimiterRes): void {
  res.set('RateLimit-Policy', `"${POLICY}";q=${quota};w=${WINDOW_SECONDS}`);
  res.set('RateLimit', `"${POLICY}";r=${state.remainingPoints};t=${Math.ceil(state.msBeforeNext / 1000)}`);
}

// One limiter per Services, that is per API process, shared by every upload route (the API's and Imgur's).
const limiters = new WeakMap<Services, RequestHandler>();

/**
 * RATE_LIMIT_UPLOADS_PER_MINUTE per client (see `clientKey`), counted in Redis so every API process shares one count:
 * each upload attempt takes a point, refused ones too; past the quota, 429 `rate_limited` with Retry-After. Every
 * answer of the route carries the RateLimit fields. `0` turns it off (no fields then: there is no policy).
 * Reusable: mount it on each upload route.
 */
export function uploadRateLimit(services: Services): RequestHandler {
  const existing = limiters.get(services);
  if (existing) return existing;
  const { uploadsPerMinute: quota } = services.config.edge;
  const handler: RequestHandler = quota === 0 ? (_req, _res, next) => next() : limitWith(services, quota);
  limiters.set(services, handler);
  return handler;
}

function limitWith(services: Services, quota: number): RequestHandler {
  const perClient = sharedLimiter(services, 'client', quota);
  const perAddress = sharedLimiter(services, 'address', quota * CLIENTS_PER_ADDRESS);

  return async (req, res, next) => {
    try {
      const key = clientKey(req);
      // Not an address already: the address takes its point first, so rotating Client-IDs ends there.
      if (!key.startsWith('ip:')) await perAddress.consume(addressKeyOf(req));
      setRateLimitFields(res, quota, await perClient.consume(key));
      next();
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) {
        setRateLimitFields(res, quota, outcome);
        const retryAfter = Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
        next(new RateLimitedError(`At most ${quota} uploads per minute; try again in ${retryAfter} s`, retryAfter));
        return;
      }
      // Not a verdict but a failure of both counters: let the upload through rather than refuse everyone.
      services.logger.warn({ err: outcome }, 'upload rate limit unavailable; letting the upload through');
      next();
    }
  };
}

/**
 * A Redis-backed fixed window shared by every API process. While Redis is down or slow to answer, each process
 * counts on its own in memory: uploads go on being accepted (they fall back to the outbox anyway) and limited,
 * if only per process.
 */
function sharedLimiter(services: Services, scope: string, points: number): RLWrapperTimeouts {
  const shared = new RateLimiterRedis({
    // The producer connection the queues already use: it fails at once while Redis is down (no offline queue), and
    // QUEUE_PREFIX keeps deployments and tests sharing one Redis apart.
    storeClient: services.queues.connection,
    rejectIfRedisNotReady: true,
    keyPrefix: `${services.config.queuePrefix}:rate-limit:${POLICY}:${scope}`,
    points,
    duration: WINDOW_SECONDS,
    insuranceLimiter: new RateLimiterMemory({ points, duration: WINDOW_SECONDS }),
  });
  // A stalled Redis (no error, no answer) must not hold uploads either; the wrapper falls back to the same insurance.
  return new RLWrapperTimeouts({ limiter: shared, timeoutMs: REDIS_TIMEOUT_MS });
}
