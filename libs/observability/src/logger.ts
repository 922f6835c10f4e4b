import pino, { type DestinationStream, type Logger } from 'pino';
import { decideLogFormat, type LogFormat } from './log-format';
import { prettyStream } from './pretty-stream';

export type { Logger };

export interface LoggerOptions {
  level: string;
  name: string;
  /** By default LOG_FORMAT, else pretty on a terminal (see decideLogFormat); `npm start` decides it for its children. */
  format?: LogFormat;
  /** Where lines go: stdout unless given. */
  destination?: DestinationStream;
}

export function createLogger({
  level,
  name,
  format = decideLogFormat(process.env.LOG_FORMAT, Boolean(process.stdout.isTTY)),
  destination,
}: LoggerOptions): Logger {
  const options = {
    name,
    level,
    // Never log a delete token or credentials, wherever they appear in a logged object.
    redact: ['req.headers["x-delete-token"]', 'req.headers.authorization', '*.deleteToken', '*.delete_token'],
  };
  if (format === 'pretty') return pino(options, prettyStream(destination));
  return destination ? pino(options, destination) : pino(options);
}
