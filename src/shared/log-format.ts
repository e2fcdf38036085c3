import type { DestinationStream } from 'pino';

/**
 * How log lines are written: `json` (one pino object per line, for machines and log collectors) or `pretty` (one
 * readable line per entry, for a person at a terminal). Both carry the same fields: the pretty form is made from the
 * JSON line pino already wrote, so redaction (src/shared/logger.ts) applies to both alike.
 */
export type LogFormat = 'json' | 'pretty';

/** SKYLOFT_LOG_FORMAT when set; otherwise pretty when the logs go to a terminal, JSON when to a file or a pipe. */
export function logFormat(configured: LogFormat | undefined, logs: { isTTY?: boolean } = process.stderr): LogFormat {
  return configured ?? (logs.isTTY ? 'pretty' : 'json');
}

const LEVELS: Record<number, { name: string; color: number }> = {
  10: { name: 'TRACE', color: 90 },
  20: { name: 'DEBUG', color: 36 },
  30: { name: 'INFO', color: 32 },
  40: { name: 'WARN', color: 33 },
  50: { name: 'ERROR', color: 31 },
  60: { name: 'FATAL', color: 35 },
};
/** Shown in the line's head (time, level, message) or the same on every line. */
const HEAD = new Set(['level', 'time', 'msg', 'service', 'err']);

/**
 * `2026-01-02T10:00:01.234Z INFO  job finished job=provision outcome=completed durationMs=812`: time, level and message,
 * then the other fields as key=value (values that are not plain words as JSON), then an error's stack, indented.
 * Control characters are escaped: text from outside (an SDK's error message) cannot move a terminal's cursor.
 */
export function prettyLine(json: string, colors = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return `${escapeControls(json)}\n`;
  }
  const paint = (color: number, text: string) => (colors ? `\x1b[${color}m${text}\x1b[0m` : text);
  const level = LEVELS[entry.level as number] ?? { name: String(entry.level), color: 0 };
  const fields = Object.entries(entry)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${paint(2, `${k}=`)}${typeof v === 'string' && /^[\w.:/@+[\]-]+$/.test(v) ? v : escapeControls(JSON.stringify(v) ?? '')}`);
  const head = [paint(2, String(entry.time ?? '')), paint(level.color, level.name.padEnd(5)), escapeControls(String(entry.msg ?? '')), ...fields];
  const err = entry.err as { type?: string; message?: string; stack?: string } | undefined;
  const stack = err && (err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`);
  const tail = stack ? `\n${stack.split('\n').map((l) => `    ${escapeControls(l)}`).join('\n')}` : '';
  return `${head.join(' ')}${tail}\n`;
}

function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A pino destination that writes each line pretty to `out`. */
export function prettyDestination(out: DestinationStream, colors: boolean): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(prettyLine(line, colors));
    },
  };
}
