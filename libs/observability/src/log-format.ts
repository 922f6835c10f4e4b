/** `json`: one JSON object a line, for log collectors. `pretty`: pino-pretty's coloured lines, for a person. */
export type LogFormat = 'json' | 'pretty';

const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * The log format: `LOG_FORMAT` when set, else pretty on a terminal and JSON anywhere else (a pipe, a file, a
 * container's log driver), so machines never have to parse pretty lines. Empty counts as unset, as compose passes it.
 * @throws {Error} naming LOG_FORMAT when it is set to anything but `json` or `pretty`
 * @example decideLogFormat(process.env.LOG_FORMAT, Boolean(process.stdout.isTTY))
 */
export function decideLogFormat(requested: string | undefined, isTTY: boolean): LogFormat {
  if (requested === undefined || requested === '') return isTTY ? 'pretty' : 'json';
  if (!LOG_FORMATS.includes(requested as LogFormat)) {
    throw new Error(`Expected LOG_FORMAT to be one of ${LOG_FORMATS.join(', ')} but received "${requested}"`);
  }
  return requested as LogFormat;
}
