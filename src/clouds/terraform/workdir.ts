import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_TERRAFORM_UID_BASE } from '../../config/index.ts';
import { canSwitchUsers, claimUid, killAllOf, untraversable, type UidClaim } from './uids.ts';

/**
 * One private directory per operation: terraform's HOME, its CLI config, the synthesized module, .terraform/, the
 * saved plan and any errored.tfstate. Nothing in it outlives the operation.
 */
export interface Workdir {
  readonly dir: string;
  /**
   * The unprivileged uid (and gid) every terraform step of this directory runs as: pass it to runTerraform. Unique
   * on the host while the directory exists. undefined when the worker is not root: terraform then runs as the
   * worker's own user (see isolationWarning).
   */
  readonly uid: number | undefined;
  /** Removes the directory and everything in it; safe to call more than once (later calls are no-ops). */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * As root, the directory is `<parent>/skyloft-tf-<uid>-XXXXXX`, mode 0700, owned by its own uid (claimUid), so no
 * other operation's terraform can enter it. The parent must let that uid through (0711, or /tmp's 1777) and should
 * not let it list its neighbours (0711: workers/workdirs.ts). `uidBase`: config.terraform.uidBase.
 */
export async function createWorkdir(opts: { parent?: string; uidBase?: number } = {}): Promise<Workdir> {
  const parent = resolve(opts.parent ?? tmpdir());
  const isolated = canSwitchUsers();
  const blocked = isolated ? untraversable(parent) : undefined;
  if (blocked) throw new Error(blocked);
  const claim: UidClaim | undefined = isolated ? await claimUid(opts.uidBase ?? DEFAULT_TERRAFORM_UID_BASE) : undefined;
  let dir: string;
  try {
    dir = await mkdtemp(join(parent, claim ? `skyloft-tf-${claim.uid}-` : 'skyloft-tf-'));
    // mkdtemp already creates 0700; stated explicitly because the plan file and state in here hold secrets.
    await chmod(dir, 0o700);
    if (claim) await chown(dir, claim.uid, claim.uid);
  } catch (e) {
    await claim?.release();
    throw e;
  }
  let removal: Promise<void> | undefined;
  const remove = async () => {
    // Nothing terraform started (a provider, a daemon a local-exec left) may outlive the operation, write while its
    // directory goes, or still run when the uid goes to the next work directory.
    if (claim) await killAllOf(claim.uid);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    await claim?.release();
  };
  const dispose = () => (removal ??= remove());
  return { dir, uid: claim?.uid, dispose, [Symbol.asyncDispose]: dispose };
}

