import { pino, type DestinationStream, type Logger } from 'pino';
import { currentContext } from './context.ts';

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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'skyloft' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: contextFields as never,
    },
    destination ?? pino.destination(2),
  );
}

export type { Logger };
