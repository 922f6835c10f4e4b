import type { DestinationStream } from 'pino';
import pinoPretty from 'pino-pretty';

/** What pino-http puts on a request's lines (apps/api/src/middleware/request-log.ts). */
interface RequestFields {
  req?: { id?: unknown; method?: unknown; url?: unknown };
  res?: { statusCode?: unknown };
  responseTime?: unknown;
}

/** A request's line reads `request completed: GET /i/abc.jpg 200 in 3 ms (req <id>)` instead of three nested objects. */
function withRequest(log: Record<string, unknown>, messageKey: string): string {
  const message = String(log[messageKey] ?? '');
  const { req, res, responseTime } = log as RequestFields;
  if (!req) return message;
  const outcome = res ? ` ${String(res.statusCode)} in ${String(responseTime)} ms` : '';
  return `${message}: ${String(req.method)} ${String(req.url)}${outcome} (req ${String(req.id)})`;
}

/**
 * pino-pretty in this process, one line per entry (an error's stack still gets its own lines). Synchronous, so
 * nothing is lost when a process exits at once and lines keep their order with console output.
 */
export function prettyStream(destination: number | DestinationStream = 1): DestinationStream {
  return pinoPretty({
    destination,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,req,res,responseTime',
    messageFormat: withRequest,
  });
}
