import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths that may hold a secret anywhere in a log object. Secrets should never reach a logger at all; this is the
 * second fence, so a mistake logs "[redacted]" instead of a key.
 */
export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'key',
  'masterKey',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'skyloft' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination(2),
  );
}

export type { Logger };
