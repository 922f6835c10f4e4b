import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, decideLogFormat, type LogFormat } from '../src/index';

// pino-pretty colours its lines when the test runs on a terminal.
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

/** A logger of the given format writing into a string. */
function capture(format: LogFormat) {
  let text = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const logger = createLogger({ level: 'info', name: 'api', format, destination });
  return { logger, text: () => text.replace(ANSI_COLOUR, '') };
}

const REQUEST_LINE = {
  req: { id: '5b0e9c1c-7a3e-4a43-9d3c-2f6f1f0a9b11', method: 'GET', url: '/i/k3J9xQ2/m.webp' },
  res: { statusCode: 200 },
  responseTime: 3,
};

describe('the log format', () => {
  it('is pretty on a terminal and JSON anywhere else, unless LOG_FORMAT says', () => {
    expect(decideLogFormat(undefined, true)).toBe('pretty');
    expect(decideLogFormat(undefined, false)).toBe('json');
    // compose passes an unset variable as empty
    expect(decideLogFormat('', true)).toBe('pretty');
    expect(decideLogFormat('', false)).toBe('json');
    expect(decideLogFormat('json', true)).toBe('json');
    expect(decideLogFormat('pretty', false)).toBe('pretty');
  });

  it('refuses any other LOG_FORMAT, naming the variable', () => {
    expect(() => decideLogFormat('Pretty', true)).toThrow('Expected LOG_FORMAT to be one of json, pretty but received "Pretty"');
    expect(() => decideLogFormat('text', false)).toThrow(/LOG_FORMAT/);
  });
});

describe('a logger', () => {
  it('writes one JSON object a line in the json format', () => {
    const { logger, text } = capture('json');
    logger.info(REQUEST_LINE, 'request completed');
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, name: 'api', msg: 'request completed', ...REQUEST_LINE });
  });

  it('writes a request as one readable line in the pretty format, and other entries with their fields', () => {
    const { logger, text } = capture('pretty');
    logger.info(REQUEST_LINE, 'request completed');
    logger.warn({ queue: 'render' }, 'job failed');
    const lines = text().trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(api\): request completed: GET \/i\/k3J9xQ2\/m\.webp 200 in 3 ms \(req 5b0e9c1c-7a3e-4a43-9d3c-2f6f1f0a9b11\)$/,
      ),
      expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN \(api\): job failed \{"queue":"render"\}$/),
    ]);
  });
});
