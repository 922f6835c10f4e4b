import type { Response } from 'express';

/** Proxies and load balancers drop connections idle for a minute or so; a comment line every 15 s keeps it alive. */
const HEARTBEAT_MS = 15_000;

export interface EventStreamWriter {
  /** Writes one event; `data` must be a single line (JSON is). */
  send(event: string, data: string): void;
  end(): void;
}

/**
 * Turns a response into a Server-Sent Events stream: headers flushed at once, no caching or buffering on the way
 * (`X-Accel-Buffering: no` for nginx), a numbered `id:` per event and heartbeat comments while idle.
 */
export function openEventStream(res: Response): EventStreamWriter {
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  let sequence = 0;
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  return {
    send(event, data) {
      sequence += 1;
      res.write(`event: ${event}\ndata: ${data}\nid: ${sequence}\n\n`);
    },
    end() {
      clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
    },
  };
}
