import { GoneError, NotFoundError, UnavailableError } from '@renditions/errors';
import {
  EventBusUnavailableError,
  isSettlingEventType,
  SETTLED_EVENT_TYPE,
  type ImageEvent,
  type ImageEventType,
  type Unsubscribe,
} from '@renditions/events';
import { findLiveImage, getImageResource } from './images';
import type { Services } from './services';

/** A live stream's events in order; the iteration ends after a settling event or on `close()`. */
export interface ImageEventStream extends AsyncIterable<ImageEvent> {
  /** The image had settled when the stream opened: it carries the snapshot and the settling event only. */
  readonly settledAtOpen: boolean;
  /** Ends the stream (client gone, server shutting down) and drops the subscription; safe to call twice. */
  close(): void;
}

export interface ImageEventStreamOptions {
  /** How often the stored state is re-read, in case a pub/sub message was lost while Redis was away. */
  recheckMs?: number;
}

type StreamServices = Pick<Services, 'db' | 'config' | 'events'>;

/**
 * The live events of one image: its current state as `image.updated` first (plus the settling event at once if it
 * has settled already), then every event announced for it, until a settling event. It subscribes before reading
 * the state, so nothing announced in between is missed; an event may then come twice, which is harmless as each
 * carries the whole resource.
 * @throws {NotFoundError} unknown id
 * @throws {GoneError} deleted
 * @throws {UnavailableError} Redis did not confirm the subscription in time
 */
export async function openImageEventStream(
  services: StreamServices,
  id: string,
  options: ImageEventStreamOptions = {},
): Promise<ImageEventStream> {
  await findLiveImage(services, id);
  const pending: ImageEvent[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const receive = (...events: ImageEvent[]) => {
    pending.push(...events);
    wake?.();
  };

  const unsubscribe = await subscribe(services, id, receive);
  let snapshot: ImageEvent[];
  try {
    snapshot = await snapshotEvents(services, id);
  } catch (error) {
    unsubscribe();
    throw error;
  }
  const settledAtOpen = snapshot.length > 1;

  const recheck = settledAtOpen ? undefined : setInterval(() => {
    snapshotEvents(services, id).then(
      (latest) => {
        if (latest.length > 1) receive(...latest);
      },
      (error: unknown) => {
        if (error instanceof NotFoundError || error instanceof GoneError) close();
        // Anything else (the database briefly away) is left to the next recheck or the next bus event.
      },
    );
  }, options.recheckMs ?? 15_000);

  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(recheck);
    unsubscribe();
    wake?.();
  }

  async function nextEvent(): Promise<ImageEvent | undefined> {
    while (!closed && pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return closed ? undefined : pending.shift();
  }

  async function* iterate(): AsyncGenerator<ImageEvent> {
    try {
      yield* snapshot;
      if (settledAtOpen) return;
      for (let event = await nextEvent(); event; event = await nextEvent()) {
        yield event;
        if (isSettlingEventType(event.type)) return;
      }
    } finally {
      close();
    }
  }

  return { settledAtOpen, close, [Symbol.asyncIterator]: iterate };
}

async function subscribe(services: StreamServices, id: string, listener: (event: ImageEvent) => void): Promise<Unsubscribe> {
  try {
    return await services.events.subscribe(id, listener);
  } catch (error) {
    if (error instanceof EventBusUnavailableError) {
      throw new UnavailableError('Live events are unavailable (Redis did not answer), try again shortly', 5, { cause: error });
    }
    throw error;
  }
}

/** The current state as `image.updated`, followed by the matching settling event once the image has settled. */
async function snapshotEvents(services: StreamServices, id: string): Promise<ImageEvent[]> {
  const data = await getImageResource(services, id);
  const timestamp = new Date().toISOString();
  const current: ImageEvent = { type: 'image.updated', timestamp, data };
  const settled = (SETTLED_EVENT_TYPE as Record<string, ImageEventType | undefined>)[data.status];
  return settled ? [current, { type: settled, timestamp, data }] : [current];
}
