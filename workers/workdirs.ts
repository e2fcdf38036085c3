import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'skyloft-worker-';

/**
 * The folder this worker process keeps its terraform work directories in, `skyloft-worker-<pid>` under the temp dir.
 * A worker killed with SIGKILL cannot remove its own; the next worker on the machine removes every such folder
 * whose process is gone (they hold synthesized stacks, plans and provider binaries, possibly secrets in plans).
 */
export function workerTempDir(): string {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(name.slice(PREFIX.length));
    if (!name.startsWith(PREFIX) || !Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  const dir = join(tmpdir(), `${PREFIX}${process.pid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
