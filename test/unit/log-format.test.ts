import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { logFormat, prettyLine } from '../../src/shared/log-format.ts';
import { createLogger } from '../../src/shared/logger.ts';

/** A logger writing into an array, as the process's logger writes to stderr. */
function capture(format: 'json' | 'pretty') {
  const out: string[] = [];
  const log = createLogger('info', new Writable({ write(chunk, _enc, done) { out.push(String(chunk)); done(); } }) as never, format);
  return { log, text: () => out.join('') };
}

describe('the log format', () => {
  it('is pretty on a terminal and JSON into a file or a pipe, unless SKYLOFT_LOG_FORMAT says', () => {
    expect(logFormat(undefined, { isTTY: true })).toBe('pretty');
    expect(logFormat(undefined, { isTTY: false })).toBe('json');
    expect(logFormat(undefined, {})).toBe('json');
    expect(logFormat('json', { isTTY: true })).toBe('json');
    expect(logFormat('pretty', { isTTY: false })).toBe('pretty');
  });

  it('is read from SKYLOFT_LOG_FORMAT, json or pretty; anything else stops start-up naming the variable', () => {
    expect(loadConfig({}).logFormat).toBeUndefined();
    expect(loadConfig({ SKYLOFT_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ SKYLOFT_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(() => loadConfig({ SKYLOFT_LOG_FORMAT: 'xml' })).toThrow(ConfigError);
    expect(() => loadConfig({ SKYLOFT_LOG_FORMAT: 'xml' })).toThrow(/SKYLOFT_LOG_FORMAT: must be json or pretty/);
  });
});

describe('a pretty line', () => {
  it('shows time, level and message, then the other fields as key=value', () => {
    const line = prettyLine(JSON.stringify({ level: 30, time: '2026-01-02T10:00:01.234Z', service: 'skyloft', job: 'provision', attempt: 1, route: '/v1/operations/:id', error: 'state is locked', ids: ['a', 'b'], msg: 'job finished' }));
    expect(line).toBe('2026-01-02T10:00:01.234Z INFO  job finished job=provision attempt=1 route=/v1/operations/:id error="state is locked" ids=["a","b"]\n');
  });

  it('puts an error\'s stack under the line, indented, and names levels', () => {
    const line = prettyLine(JSON.stringify({ level: 60, time: 't', msg: 'PORT 8080 is already in use', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at start (src/roles.ts:1:1)' } }));
    expect(line).toBe('t FATAL PORT 8080 is already in use\n    Error: boom\n        at start (src/roles.ts:1:1)\n');
    expect(prettyLine(JSON.stringify({ level: 40, time: 't', msg: 'm' }))).toBe('t WARN  m\n');
  });

  it('escapes control characters, so text from outside cannot drive the terminal', () => {
    const line = prettyLine(JSON.stringify({ level: 30, time: 't', msg: 'cloud said \x1b[2Jhi\nthere', error: '\x1b]0;title\x07' }));
    expect(line).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(line).toBe('t INFO  cloud said \\u001b[2Jhi\\u000athere error="\\u001b]0;title\\u0007"\n');
  });

  it('is colored only when asked', () => {
    const json = JSON.stringify({ level: 50, time: 't', msg: 'm' });
    expect(prettyLine(json, true)).toContain('\x1b[31mERROR\x1b[0m');
    expect(prettyLine(json)).not.toContain('\x1b');
  });
});

describe('redaction', () => {
  it('applies in both formats: a secret-bearing line is logged with [redacted]', () => {
    for (const format of ['json', 'pretty'] as const) {
      const { log, text } = capture(format);
      log.info({ password: 'hunter2-marker', credential: { secretAccessKey: 'AKIA-marker', region: 'eu-west-1' }, apiKey: 'sky_marker' }, 'connecting');
      expect(text(), format).toContain('[redacted]');
      expect(text(), format).toContain('eu-west-1');
      expect(text(), format).not.toMatch(/hunter2-marker|AKIA-marker|sky_marker/);
    }
    const { log, text } = capture('pretty');
    log.info({ password: 'x' }, 'hello');
    expect(text()).toMatch(/^\S+ INFO  hello password=\[redacted\]\n$/);
  });
});
