import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Terraform runs as the leader of its own process group (spawned detached), so its pid is the group id and
 * process.kill(-pgid) reaches terraform, its provider plugins and every local-exec child at once.
 */

/** Sends `signal` (0: none, just look) to every process of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * SIGKILLs the group until no process of it still runs, or `timeoutMs` passes; returns whether it is gone. Killing
 * again on each round catches a child forked just as the previous signal was sent. Waiting matters: a caller that
 * retries the step must not start a new terraform while the old one's providers are still talking to the cloud.
 */
export async function killGroupAndWait(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!signalGroup(pgid, 'SIGKILL') || !(await hasRunningMember(pgid))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

/**
 * kill(-pgid, 0) succeeds while any member exists, zombies included; a zombie runs nothing, but on a machine whose
 * init reaps slowly (containers) it can linger. On Linux, look at the members' states instead.
 */
async function hasRunningMember(pgid: number): Promise<boolean> {
  if (process.platform !== 'linux') return signalGroup(pgid, 0);
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return signalGroup(pgid, 0);
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}
