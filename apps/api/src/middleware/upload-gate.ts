import type { RequestHandler, Response } from 'express';
import { RateLimitedError, UnavailableError } from '@renditions/errors';
import type { Services } from '@renditions/pipeline';
import { clientKey } from './client-key';
import { closeAfterAnswer, refuseDeclaredOversize } from './content-length';
import { uploadRateLimit } from './rate-limit';

/** Uploads one client may have in flight at once in a process (when per-client limits are on). */
export const UPLOADS_AT_ONCE_PER_CLIENT = 4;
/**
 * Uploads that may wait for a validation turn, per turn (MAX_CONCURRENT_UPLOADS): each waits as a spooled file on
 * disk (up to MAX_UPLOAD_BYTES), so this bounds the disk they hold. Past it: 503, and the client tries again later.
 */
export const QUEUED_UPLOADS_PER_TURN = 4;
/** The longest an upload waits for its turn before it is answered 503 rather than held further. */
export const MAX_TURN_WAIT_MS = 30_000;
/**
 * Bodies being received at once per process, by every upload route together, and images being fetched for `type=url`
 * uploads: each holds a connection and an open spool file, so this bounds the file descriptors and spool disk that
 * slow uploads can take (4,000 connections x 20 MB otherwise); past it, 503.
 */
export const MAX_UPLOADS_RECEIVING = 256;
export const RETRY_AFTER_SECONDS = 5;

/** A FIFO semaphore with a bounded queue and a bounded wait. */
export class Turns {
  private active = 0;
  private readonly waiting: Array<{ grant(): void }> = [];

  constructor(
    readonly max: number,
    readonly maxQueued: number,
    private readonly maxWaitMs: number,
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with the release function once a turn is free. Rejects with UnavailableError when the queue is full or
   * the wait runs out; `abandon` (the client went away) leaves the queue without taking a turn.
   */
  take(abandon: AbortSignal): Promise<() => void> {
    // The turn passes straight to the first in line, if any: `active` then stays as it is.
    const release = once(() => {
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.active -= 1;
    });
    if (this.active < this.max) {
      this.active += 1;
      return Promise.resolve(release);
    }
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(new UnavailableError('Too many uploads are waiting; try again shortly', RETRY_AFTER_SECONDS));
    }
    if (abandon.aborted) return Promise.reject(new UnavailableError('The client went away', RETRY_AFTER_SECONDS));
    return new Promise((resolve, reject) => {
      const leave = (error?: Error) => {
        clearTimeout(timer);
        abandon.removeEventListener('abort', onAbort);
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        if (error) reject(error);
      };
      const entry = {
        grant: () => {
          leave();
          resolve(release);
        },
      };
      const onAbort = () => leave(new UnavailableError('The client went away while waiting', RETRY_AFTER_SECONDS));
      const timer = setTimeout(
        () => leave(new UnavailableError('Uploads are taking long to process; try again shortly', RETRY_AFTER_SECONDS)),
        this.maxWaitMs,
      );
      abandon.addEventListener('abort', onAbort);
      this.waiting.push(entry);
    });
  }
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}

/** Counts what each client has in flight; entries go when they reach zero, so the map holds only active clients. */
/** At most `max` at once per key; `tryEnter` gives the release, to be called once. */
class PerKey {
  private readonly inFlight = new Map<string, number>();
  constructor(readonly max: number) {}

  tryEnter(key: string): (() => void) | undefined {
    const count = this.inFlight.get(key) ?? 0;
    if (count >= this.max) return undefined;
    this.inFlight.set(key, count + 1);
    return once(() => {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    });
  }
}

/** An upload's bytes take a slot while they arrive, sent by the client or fetched from a URL. */
export interface ReceivingSlots {
  /**
   * Takes a slot; the function returned gives it back (once, however often it is called).
   * @throws {UnavailableError} all MAX_UPLOADS_RECEIVING slots are taken
   */
  enter(): () => void;
}

/**
 * A slot for the body `res` will answer. Refused for want of room (503), the answer ends the connection instead of
 * draining the rest: an overloaded process sheds the connection too.
 * @throws {UnavailableError} all slots are taken
 */
export function receivingSlotFor(receiving: ReceivingSlots, res: Response): () => void {
  try {
    return receiving.enter();
  } catch (error) {
    closeAfterAnswer(res);
    throw error;
  }
}

export interface UploadGate {
  /** Before the body is read: refuses a client already running UPLOADS_AT_ONCE_PER_CLIENT uploads (429). */
  perClient: RequestHandler;
  /** After the body is on disk (receiveUpload's `admit`): waits for one of MAX_CONCURRENT_UPLOADS turns. */
  admit: RequestHandler;
  turns: Turns;
  receiving: ReceivingSlots;
}

// One gate per Services, that is per API process: every upload route of the process (the API's and Imgur's) shares
// its turns, its per-client counts and its count of bodies being received.
const gates = new WeakMap<Services, UploadGate>();

/**
 * The process's upload gate. The per-client cap is on whenever RATE_LIMIT_UPLOADS_PER_MINUTE is: `0` turns every
 * per-client upload limit off (a private deployment, or tests that upload in bulk from one address).
 */
export function uploadGate(services: Services): UploadGate {
  let gate = gates.get(services);
  if (!gate) {
    const { maxConcurrentUploads, uploadsPerMinute } = services.config.edge;
    const turns = new Turns(maxConcurrentUploads, maxConcurrentUploads * QUEUED_UPLOADS_PER_TURN, MAX_TURN_WAIT_MS);
    const clients = new PerKey(UPLOADS_AT_ONCE_PER_CLIENT);
    const bodies = new PerKey(MAX_UPLOADS_RECEIVING);
    gate = {
      turns,
      receiving: {
        enter: () => {
          const leave = bodies.tryEnter('process');
          if (!leave) throw new UnavailableError('Too many uploads are arriving at once; try again shortly', RETRY_AFTER_SECONDS);
          return leave;
        },
      },
      perClient:
        uploadsPerMinute === 0
          ? (_req, _res, next) => next()
          : (req, res, next) => {
              const leave = clients.tryEnter(clientKey(req));
              if (!leave) {
                next(new RateLimitedError(`At most ${clients.max} uploads at once per client`, RETRY_AFTER_SECONDS));
                return;
              }
              res.once('close', leave);
              next();
            },
      admit: (_req, res, next) => {
        const gone = new AbortController();
        const onClose = () => gone.abort();
        res.once('close', onClose);
        turns.take(gone.signal).then(
          (release) => {
            res.off('close', onClose);
            if (gone.signal.aborted) {
              release();
              next(new UnavailableError('The client went away while waiting', RETRY_AFTER_SECONDS));
              return;
            }
            // 'close' comes once the answer is sent, or when the client goes away: either way the turn is over.
            res.once('close', release);
            next();
          },
          next,
        );
      },
    };
    gates.set(services, gate);
  }
  return gate;
}

/**
 * What every upload route runs before it reads the body, in this order: the rate limit (first, so that every answer,
 * a 413 too, carries the RateLimit fields), a declared Content-Length that cannot fit (413 before reading), and the
 * per-client cap on uploads at once. The route then receives with `receiveUpload`, given the gate's `receiving` and `admit`.
 * `maxBodyBytes`: the largest body the route reads, when the file may come encoded (default: the file plus framing).
 */
export function uploadGuards(services: Services, maxBodyBytes?: number): RequestHandler[] {
  return [
    uploadRateLimit(services),
    refuseDeclaredOversize(services.config.limits.maxUploadBytes, maxBodyBytes),
    uploadGate(services).perClient,
  ];
}
