import { assertNodeVersion } from './shared/node-version.ts';
assertNodeVersion();

const { loadConfig, ConfigError } = await import('./config/index.ts');
const { createLogger } = await import('./shared/logger.ts');
const { openRuntime } = await import('./runtime.ts');
const { startRoles } = await import('./roles.ts');

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
try {
  const runtime = await openRuntime(config, log, { migrate: true, redis: true });
  const stop = await startRoles(runtime);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    await stop();
    await runtime.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
} catch (e) {
  log.fatal({ err: e }, (e as Error).message);
  process.exit(1);
}
