import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One private directory per operation: terraform's HOME, its CLI config, the synthesized module, .terraform/, the
 * saved plan and any errored.tfstate. Nothing in it outlives the operation.
 */
export interface Workdir {
  readonly dir: string;
  /** Removes the directory and everything in it; safe to call more than once (later calls are no-ops). */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function createWorkdir(opts: { parent?: string } = {}): Promise<Workdir> {
  const dir = await mkdtemp(join(opts.parent ?? tmpdir(), 'skyloft-tf-'));
  // mkdtemp already creates 0700; stated explicitly because the plan file and state in here hold secrets.
  await chmod(dir, 0o700);
  let removal: Promise<void> | undefined;
  const dispose = () => (removal ??= rm(dir, { recursive: true, force: true, maxRetries: 3 }));
  return { dir, dispose, [Symbol.asyncDispose]: dispose };
}
