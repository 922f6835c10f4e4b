import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level: string; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    // Never log a delete token or credentials, wherever they appear in a logged object.
    redact: ['req.headers["x-delete-token"]', 'req.headers.authorization', '*.deleteToken', '*.delete_token'],
  });
}
