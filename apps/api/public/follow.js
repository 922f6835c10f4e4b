const SETTLED = new Set(['ready', 'failed', 'rejected']);
const EVENT_TYPES = ['image.updated', 'image.rendition.ready', 'image.ready', 'image.failed', 'image.rejected', 'image.deleted'];
const POLL_INTERVAL_MS = 1000;

/**
 * Follows an image until it settles: live from its Server-Sent Events stream, or by polling the resource when
 * the stream is unavailable or breaks. Calls `onImage(resource)` for every state seen (possibly out of order:
 * the caller keeps the newest), `onMode('live' | 'polling')` when the source changes, and `onEnd(status)` once
 * with `ready`, `failed`, `rejected` or `deleted`. Returns a function that stops following.
 */
export function followImage(id, { onImage, onMode, onEnd }) {
  const resourceUrl = `/api/v1/images/${encodeURIComponent(id)}`;
  let stopped = false;
  let source;
  let pollTimer;

  const stop = () => {
    stopped = true;
    source?.close();
    clearTimeout(pollTimer);
  };
  const end = (status) => {
    if (stopped) return;
    stop();
    onEnd(status);
  };
  const show = (image) => {
    if (stopped) return;
    onImage(image);
    if (SETTLED.has(image.status)) end(image.status);
  };

  async function refresh() {
    const response = await fetch(resourceUrl, { cache: 'no-store' });
    if (response.status === 404 || response.status === 410) return end('deleted');
    if (!response.ok) throw new Error(`GET ${resourceUrl}: ${response.status}`);
    show(await response.json());
  }

  function poll() {
    onMode('polling');
    const tick = async () => {
      // A failed poll (server restarting, network blip) is simply tried again at the next tick.
      await refresh().catch(() => undefined);
      if (!stopped) pollTimer = setTimeout(tick, POLL_INTERVAL_MS);
    };
    void tick();
  }

  if (!('EventSource' in window)) {
    poll();
    return stop;
  }
  source = new EventSource(`${resourceUrl}/events`);
  source.onopen = () => {
    onMode('live');
    // Whatever happened between the upload's answer and the stream opening is not replayed: read it once.
    refresh().catch(() => undefined);
  };
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (event) => {
      const { data } = JSON.parse(event.data);
      if (type === 'image.deleted') end('deleted');
      else show(data);
    });
  }
  source.onerror = () => {
    if (stopped) return;
    // EventSource would reconnect by itself after a drop, but gives up for good on a 404 or a wrong type;
    // polling covers both cases the same way, and a settled image ends it after one request.
    source.close();
    poll();
  };
  return stop;
}
