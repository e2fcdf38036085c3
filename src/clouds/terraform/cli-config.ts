import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { INSTALLABLE_PROVIDER_ADDRESSES } from '../../../stacks/providers.ts';

/** The CLI config's name inside the work directory: beside the module folder, never inside it. */
export const CLI_CONFIG_FILE = 'terraform.rc';

/**
 * The terraform CLI config for one operation: a `provider_installation` block with exactly one method, limited by an
 * `include` list to the pinned providers (stacks/providers.ts). A configuration, a module or a stored state that
 * names any other provider (`evil.example.com/attacker/evil`) fails `terraform init` with "not found in any of the
 * search locations", and terraform never contacts that host: with no matching method it does not even ask the host's
 * /.well-known/terraform.json. Terraform's built-in provider (terraform_data) needs no installation.
 *
 * With a mirror (air-gapped sites, https://developer.hashicorp.com/terraform/cli/config/config-file#filesystem_mirror)
 * the only method is `filesystem_mirror`; without one it is `direct` (the public registry). Either way the machine's
 * own ~/.terraformrc (credentials, plugin caches, dev_overrides) is ignored: it must not leak into a Skyloft run.
 */
export function renderCliConfig(
  providerMirror: string | undefined,
  include: readonly string[] = INSTALLABLE_PROVIDER_ADDRESSES,
): string {
  // The CLI config is HCL 1, whose strings take JSON's escapes, so JSON.stringify quotes any path safely.
  const list = `[${include.map((a) => JSON.stringify(a)).join(', ')}]`;
  const method =
    providerMirror === undefined
      ? `  direct {\n    include = ${list}\n  }\n`
      : `  filesystem_mirror {\n    path    = ${JSON.stringify(resolve(providerMirror))}\n    include = ${list}\n  }\n`;
  return `provider_installation {\n${method}}\n`;
}

/**
 * Writes the CLI config into the work directory and returns its path (for TF_CLI_CONFIG_FILE). The work directory
 * belongs to terraform's uid, which may have left a symlink at this name: it is removed, and the file created anew
 * with O_EXCL (which never follows a symlink), so the worker never writes through a link into a file of its own.
 */
export async function writeCliConfig(workdir: string, providerMirror: string | undefined): Promise<string> {
  const file = join(workdir, CLI_CONFIG_FILE);
  await rm(file, { force: true });
  await writeFile(file, renderCliConfig(providerMirror), { mode: 0o600, flag: 'wx' });
  return file;
}

/**
 * The whole environment terraform gets: PATH, HOME (the work directory), terraform's automation settings and the
 * caller's variables (TF_HTTP_* for the state backend, cloud credentials). Never the parent's environment: it holds
 * SKYLOFT_MASTER_KEY and DATABASE_URL, and terraform hands its environment on to every provider and local-exec.
 * Proxies or a custom CA bundle for the registry must therefore be passed by the caller too.
 */
export function terraformEnv(opts: {
  workdir: string;
  cliConfigFile: string;
  env?: Readonly<Record<string, string>>;
}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    ...opts.env,
    // Set last so a caller cannot undo the isolation by accident.
    HOME: opts.workdir,
    TF_CLI_CONFIG_FILE: opts.cliConfigFile,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
  };
}

/** Variable names whose values are treated as secrets and redacted from terraform's output. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_KEY/i;

/** The caller's secrets plus every caller variable whose name looks secret (a second fence for a forgotten one). */
export function secretsOf(
  env: Readonly<Record<string, string>> | undefined,
  secrets: readonly string[] | undefined,
): string[] {
  const fromEnv = Object.entries(env ?? {})
    .filter(([name]) => SECRET_NAME.test(name))
    .map(([, value]) => value);
  return [...(secrets ?? []), ...fromEnv];
}
