import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'skyloft-worker-';

/**
 * The folder this worker process keeps its terraform work directories in, `skyloft-worker-<pid>` under the temp dir.
 * A worker killed with SIGKILL cannot remove its own; the next worker on the machine removes every such folder
 * whose process is gone (they hold synthesized stacks, plans and provider binaries, possibly secrets in plans).
 *
 * Mode 0711: terraform runs under a uid of its own per work directory (src/clouds/terraform/uids.ts), which must be
 * able to pass through this folder to reach its directory, but not list it to find the others.
 */
export function workerTempDir(): string {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(name.slice(PREFIX.length));
    if (!name.startsWith(PREFIX) || !Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  const dir = join(tmpdir(), `${PREFIX}${process.pid}`);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  // The temp dir is shared: someone else could have made this folder (or a symlink of this name) first, to see or
  // steer the work directories. Only one of our own will do.
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.()) throw new Error(`${dir} exists and is not this user's folder: remove it`);
  chmodSync(dir, 0o711); // mkdir's mode passes through the umask, and does not change a folder that already exists
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
