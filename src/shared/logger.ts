import { pino, type DestinationStream, type Logger } from 'pino';
import { currentContext } from './context.ts';
import { prettyDestination, type LogFormat } from './log-format.ts';

/**
 * Paths that may hold a secret anywhere in a log object. Secrets should never reach a logger at all; this is the
 * second fence, so a mistake logs "[redacted]" instead of a key. (pino's `*` matches one level: list both depths.)
 */
const SECRET_KEYS = [
  'secret',
  'password',
  'apiKey',
  'key',
  'masterKey',
  'secretAccessKey',
  'sessionToken',
  'clientSecret',
  'serviceAccountJson',
  'private_key',
  'privateKey',
  'token',
  'authorization',
  'cookie',
  'set-cookie',
];
export const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((k) => [`["${k}"]`, `*["${k}"]`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'body',
  '*.body',
];

const { chindingsSym } = pino.symbols;

/**
 * Every line logged while serving a request or running a job carries its `requestId` (and `jobId`), whichever
 * logger wrote it: services hold the process's base logger, which a per-job child logger would not reach. A field
 * already bound by a child logger (Fastify's request logger binds requestId) is not repeated.
 */
function contextFields(_obj: object, _level: number, logger: Logger): Record<string, string> {
  const ctx = currentContext();
  if (!ctx) return {};
  const bound = (logger as unknown as Record<symbol, string>)[chindingsSym] ?? '';
  const out: Record<string, string> = {};
  if (ctx.requestId && !bound.includes('"requestId":')) out.requestId = ctx.requestId;
  if (ctx.jobId && !bound.includes('"jobId":')) out.jobId = ctx.jobId;
  return out;
}

/**
 * The process's logger: JSON lines on stderr (or `destination`), or with `format` pretty the same lines made readable
 * (coloured when stderr is a terminal and NO_COLOR is unset). Redaction happens before either is written. Writes are
 * synchronous, as Node's own process.stderr is on Linux: the last lines before an exit keep their order (an async
 * write still in flight while the exit hook flushed the rest printed "stopped" before the database's last line).
 */
export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const out = destination ?? pino.destination({ dest: 2, sync: true });
  const colors = destination === undefined && process.stderr.isTTY && !process.env.NO_COLOR;
  return pino(
    {
      level,
      base: { service: 'skyloft' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: contextFields as never,
    },
    format === 'pretty' ? prettyDestination(out, colors) : out,
  );
}

export type { Logger };
