import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { lchown, lstat, mkdir, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MIN_TERRAFORM_UID, TERRAFORM_UID_SPAN } from '../../config/index.ts';

/**
 * Terraform runs whatever a configuration, a module or a provider says: a provider plugin and a `local-exec` run as
 * the user terraform runs as. As the worker's own user they could read /proc/<worker>/environ (SKYLOFT_MASTER_KEY,
 * DATABASE_URL), the worker's memory and every other operation's work directory. So a worker running as root gives
 * each work directory its own unprivileged uid (no /etc/passwd entry needed) and runs every terraform step of that
 * directory under it, through setpriv with no-new-privs (no setuid binary or file capability can raise it again).
 */

export const SETPRIV = '/usr/bin/setpriv';

/** Only root can switch to another uid (and signal, chown and clean up after it). */
export const canSwitchUsers = (): boolean => process.getuid?.() === 0;

/** The command line that runs `bin args` as `uid`, with no supplementary groups and no way to gain privileges. */
export function asUid(uid: number, bin: string, args: readonly string[]): [string, string[]] {
  return [SETPRIV, [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs', '--', bin, ...args]];
}

/** What the worker logs once at start when terraform cannot be isolated, or undefined when it is. */
export function isolationWarning(): string | undefined {
  if (canSwitchUsers()) {
    if (!existsSync(SETPRIV)) {
      return `${SETPRIV} (util-linux) is missing: terraform cannot be started under its own uid, so every terraform step will fail until it is installed`;
    }
    return untraversable(tmpdir());
  }
  return (
    `terraform is not isolated: it runs as this worker's own user (uid ${process.getuid?.() ?? '?'}), so a provider ` +
    'plugin or a local-exec provisioner can read this process\'s environment (SKYLOFT_MASTER_KEY, DATABASE_URL) and ' +
    "every other operation's work directory. Run the worker as root (in the container image: `user: root` for the " +
    'worker service, or `docker run --user root`): it then runs each terraform under its own unprivileged uid'
  );
}

/**
 * Terraform's uid is neither the owner nor in the group of the folders above its work directory, so each must let
 * any user through (o+x; /tmp's 1777 does). Says which one does not, rather than terraform's "Module directory does
 * not exist or cannot be read".
 */
export function untraversable(parent: string): string | undefined {
  for (let dir = resolve(parent); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) {
      return (
        `terraform runs under uids of its own and cannot reach work directories in ${parent}: ${dir} does not let ` +
        'other users through (chmod o+x it, or point TMPDIR at a folder such as /tmp)'
      );
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Host-wide uid allocation. Each process claims a uid by creating `<registry>/<pid>-<start time>/<uid>`, then looks
 * for the same uid in every other live process's folder; if it finds it, it withdraws and tries another. Two claims
 * racing for one uid can both withdraw but never both win (each creates its own entry before it looks at the
 * other's), and no process ever deletes a live process's claim: a folder is swept only once the process it names
 * (pid and start time, so a reused pid is not mistaken for it) is gone. Workers sharing a host must share the temp
 * directory, or use separate SKYLOFT_TERRAFORM_UID_BASE ranges.
 */
const REGISTRY = () => join(tmpdir(), 'skyloft-terraform-uids');
const MAX_TRIES = 200;

export interface UidClaim {
  readonly uid: number;
  /** Gives the uid back; call it once nothing runs as the uid any more (killAllOf) and its files are gone. */
  release(): Promise<void>;
}

export async function claimUid(base: number): Promise<UidClaim> {
  const registry = REGISTRY();
  await mkdir(registry, { recursive: true, mode: 0o700 });
  // A shared temp directory: someone else may have made this folder first, to steer the claims.
  const st = await lstat(registry);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new Error(`${registry} is not a directory owned by root and writable only by it: remove it`);
  }
  const own = join(registry, `${process.pid}-${startTime(process.pid, await readStat('self'))}`);
  await mkdir(own, { recursive: true, mode: 0o700 });

  for (let i = 0; i < MAX_TRIES; i++) {
    const uid = base + Math.floor(Math.random() * TERRAFORM_UID_SPAN);
    const entry = join(own, String(uid));
    try {
      await mkdir(entry);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue; // this process already uses it
      throw e;
    }
    if (await claimedElsewhere(registry, own, uid)) {
      await rmdir(entry);
      continue;
    }
    // Whatever still runs as this uid (a terraform whose worker was killed, a daemon a local-exec left behind) must
    // not share it with the new work directory.
    await killAllOf(uid);
    let released: Promise<void> | undefined;
    return { uid, release: () => (released ??= rmdir(entry).catch(() => {})) };
  }
  throw new Error(`no free terraform uid in ${base}-${base + TERRAFORM_UID_SPAN - 1} after ${MAX_TRIES} tries`);
}

/** Whether a live process other than this one claims `uid`; the folders of dead processes are swept on the way. */
async function claimedElsewhere(registry: string, own: string, uid: number): Promise<boolean> {
  let found = false;
  for (const name of await readdir(registry)) {
    const folder = join(registry, name);
    if (folder === own) continue;
    const m = /^(\d+)-(\d+)$/.exec(name);
    if (m && !(await isAlive(Number(m[1]), m[2]!))) {
      await rm(folder, { recursive: true, force: true }); // its process is gone and can claim nothing more
      continue;
    }
    // A live process's claim, or something that is not ours to judge: keep away from it either way.
    if (existsSync(join(folder, String(uid)))) found = true;
  }
  return found;
}

async function isAlive(pid: number, start: string): Promise<boolean> {
  try {
    return startTime(pid, await readStat(String(pid))) === start;
  } catch {
    return false;
  }
}

const readStat = (pid: string) => readFile(`/proc/${pid}/stat`, 'utf8');

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTime(pid: number, stat: string): string {
  // "pid (comm) state ...": comm may hold spaces and parentheses, so count fields after the last ')'.
  const field = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  if (!field) throw new Error(`cannot read the start time of process ${pid}`);
  return field;
}

/**
 * SIGKILLs every process running as `uid`: kill(-1) from a shell running as that uid reaches exactly the processes
 * it may signal (those whose real or saved uid is `uid`: an unprivileged process cannot change its real uid), all in
 * one call (a fork under way fails on the pending SIGKILL), and never the shell itself. No /proc scan to race.
 */
export async function killAllOf(uid: number): Promise<void> {
  // kill(-1) as root (or as the worker's own user) would kill every process it may signal: the whole machine.
  if (!Number.isInteger(uid) || uid < MIN_TERRAFORM_UID || uid === process.getuid?.()) throw new Error(`refusing to kill every process of uid ${uid}`);
  await promisify(execFile)('/bin/sh', ['-c', 'kill -KILL -1 2>/dev/null; exit 0'], { uid, gid: uid, env: {} });
}

/**
 * Gives the worker's own files in the work directory (the CLI config, a synthesized stack, a file a test wrote) to
 * terraform's uid, so it can read and replace them. lstat and lchown: a symlink is re-owned itself, never followed,
 * and a directory is entered only if it is one. Only files the worker owns are touched, and a non-directory only
 * with a single link: a hard link terraform made to some file of the worker's elsewhere must not hand that file over.
 * Call it only while no process runs as `uid` (killAllOf), so nothing can swap an entry between the look and the
 * change.
 */
export async function chownTree(path: string, uid: number): Promise<void> {
  const st = await lstat(path);
  if (st.uid === process.getuid?.() && (st.isDirectory() || st.nlink === 1)) await lchown(path, uid, uid);
  if (!st.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid);
}
