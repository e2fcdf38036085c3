import './node-check.cjs'; // first: an older Node is told to use npm start (see the file)

const { loadConfig, ConfigError } = await import('./config/index.ts');
const { createLogger } = await import('./shared/logger.ts');
const { logFormat } = await import('./shared/log-format.ts');
const { openRuntime } = await import('./runtime.ts');
const { startRoles } = await import('./roles.ts');
const { preloadEmbeddedPostgres } = await import('./db/local-postgres.ts');
const { stopBudget } = await import('./shared/shutdown.ts');
type StopBudget = import('./shared/shutdown.ts').StopBudget;

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
const log = createLogger(config.logLevel, undefined, logFormat(config.logFormat));

let runtime: Awaited<ReturnType<typeof openRuntime>> | undefined;
let stopRoles: ((budget: StopBudget) => Promise<void>) | undefined;
let stopping: { signal: string; at: number } | undefined;

/** A Ctrl-C reaches this process twice: from the terminal (its process group) and forwarded by npm. Same stop. */
const ECHO_MS = 1_000;

/**
 * Handlers are in place before anything starts: a SIGTERM during start-up lets start-up finish, then stops what
 * started instead of killing the process midway. The stop: HTTP stops accepting and finishes in-flight requests while
 * workers stop taking jobs and let running ones finish, then hand the rest back (src/shared/shutdown.ts); then
 * PostgreSQL and Redis are closed (the local PostgreSQL last), all within SKYLOFT_SHUTDOWN_TIMEOUT, else exit 1.
 * SIGINT (Ctrl-C) and SIGTERM stop the same way, with one log line each. A second signal during the stop is logged
 * and ignored: exiting at once would leave a terraform mid-stop with its lease held, and the limit already bounds the
 * wait. The echo of the first one (the same signal within ECHO_MS: npm forwarding the terminal's Ctrl-C) is not a
 * second signal.
 */
async function shutdown(signal: string, starting: Promise<unknown>): Promise<void> {
  if (stopping) {
    if (signal === stopping.signal && Date.now() - stopping.at < ECHO_MS) return;
    log.warn({ signal }, 'already shutting down; the signal is ignored (the shutdown limit still applies)');
    return;
  }
  stopping = { signal, at: Date.now() };
  const started = Date.now();
  const budget = stopBudget(config!.shutdownTimeoutMs, started);
  log.info({ signal, timeoutMs: config!.shutdownTimeoutMs }, 'shutting down');
  setTimeout(() => {
    log.error({ timeoutMs: config!.shutdownTimeoutMs }, 'shutdown took longer than SKYLOFT_SHUTDOWN_TIMEOUT; exiting');
    process.exit(1);
  }, config!.shutdownTimeoutMs).unref();
  await starting.catch(() => {});
  await stopRoles?.(budget);
  await runtime?.close();
  log.info({ durationMs: Date.now() - started }, 'stopped');
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
