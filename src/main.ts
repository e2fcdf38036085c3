import { assertNodeVersion } from './shared/node-version.ts';
assertNodeVersion();

const { loadConfig, ConfigError } = await import('./config/index.ts');
const { createLogger } = await import('./shared/logger.ts');
const { openRuntime } = await import('./runtime.ts');
const { startRoles } = await import('./roles.ts');
const { preloadEmbeddedPostgres } = await import('./db/local-postgres.ts');

let config;
try {
  config = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  throw e;
}
const log = createLogger(config.logLevel);

let runtime: Awaited<ReturnType<typeof openRuntime>> | undefined;
let stopRoles: (() => Promise<void>) | undefined;
let stopping = false;

/**
 * Handlers are in place before anything starts: a SIGTERM during start-up lets start-up finish, then stops what
 * started (HTTP first, then workers, then connections) instead of killing the process midway.
 */
async function shutdown(signal: string, starting: Promise<unknown>): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  setTimeout(() => {
    log.error('shutdown took longer than 30 s; exiting');
    process.exit(1);
  }, 30_000).unref();
  await starting.catch(() => {});
  await stopRoles?.();
  await runtime?.close();
  log.info('stopped');
  process.exit(0);
}

if (!config.databaseUrl) await preloadEmbeddedPostgres();
const starting = (async () => {
  runtime = await openRuntime(config, log, { migrate: true, redis: true });
  stopRoles = await startRoles(runtime);
})();
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void shutdown(signal, starting));

try {
  await starting;
} catch (e) {
  log.fatal({ err: e }, (e as Error).message);
  await runtime?.close().catch(() => {});
  process.exit(1);
}
