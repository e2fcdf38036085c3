import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The CLI config's name inside the work directory: beside the module folder, never inside it. */
export const CLI_CONFIG_FILE = 'terraform.rc';

/**
 * The terraform CLI config for one operation. With a mirror, providers come only from that directory (air-gapped
 * sites: https://developer.hashicorp.com/terraform/cli/config/config-file#filesystem_mirror); without one, the file
 * is empty, so terraform uses the public registry and ignores the machine's own ~/.terraformrc (credentials,
 * plugin caches, dev_overrides) that must not leak into a Skyloft run.
 */
export function renderCliConfig(providerMirror: string | undefined): string {
  if (providerMirror === undefined) return '';
  // The CLI config is HCL 1, whose strings take JSON's escapes, so JSON.stringify quotes any path safely.
  const path = JSON.stringify(resolve(providerMirror));
  return `provider_installation {\n  filesystem_mirror {\n    path = ${path}\n  }\n}\n`;
}

/** Writes the CLI config into the work directory and returns its path (for TF_CLI_CONFIG_FILE). */
export async function writeCliConfig(workdir: string, providerMirror: string | undefined): Promise<string> {
  const file = join(workdir, CLI_CONFIG_FILE);
  await writeFile(file, renderCliConfig(providerMirror), { mode: 0o600 });
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
