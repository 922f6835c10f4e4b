/** One Server-Sent Event as a browser's EventSource would dispatch it. */
export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Reads a `text/event-stream` body until the server ends it, parsing events per the HTML spec's rules (fields,
 * multi-line data, comments ignored). `onEvent` sees each event as it arrives.
 */
export async function readEventStream(
  response: Response,
  onEvent: (event: ServerSentEvent) => void = () => undefined,
): Promise<ServerSentEvent[]> {
  if (!response.body) throw new Error('the response has no body');
  const events: ServerSentEvent[] = [];
  let buffer = '';
  const dispatch = (block: string) => {
    const fields = { event: 'message', data: [] as string[], id: undefined as string | undefined };
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'event') fields.event = value;
      else if (name === 'data') fields.data.push(value);
      else if (name === 'id') fields.id = value;
    }
    if (fields.data.length === 0) return;
    const event = { event: fields.event, data: fields.data.join('\n'), id: fields.id };
    events.push(event);
    onEvent(event);
  };
  for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end = buffer.search(/\r?\n\r?\n/);
    while (end >= 0) {
      dispatch(buffer.slice(0, end));
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      end = buffer.search(/\r?\n\r?\n/);
    }
  }
  return events;
}
