import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A user's own terraform, pointed at Skyloft's http backend for one resource: what a platform engineer runs on
 * their laptop. The API key travels in TF_HTTP_PASSWORD, never in the configuration.
 */
export class TerraformCli {
  readonly dir = mkdtempSync(join(tmpdir(), 'skyloft-tf-'));

  constructor(baseUrl: string, resourceId: string, apiKey: string, resources: Record<string, unknown>) {
    const address = `${baseUrl}/v1/terraform/state/${resourceId}`;
    this.env = {
      PATH: process.env.PATH ?? '',
      HOME: this.dir,
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      TF_CLI_CONFIG_FILE: join(this.dir, 'empty.tfrc'),
      TF_HTTP_ADDRESS: address,
      TF_HTTP_LOCK_ADDRESS: address,
      TF_HTTP_UNLOCK_ADDRESS: address,
      TF_HTTP_USERNAME: 'me',
      TF_HTTP_PASSWORD: apiKey,
      TF_HTTP_RETRY_MAX: '0',
    };
    writeFileSync(this.env.TF_CLI_CONFIG_FILE!, '');
    writeFileSync(join(this.dir, 'main.tf.json'), JSON.stringify({ terraform: { backend: { http: {} } }, ...resources }));
  }

  private readonly env: Record<string, string>;

  run(...args: string[]): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
      const [command = '', ...rest] = args;
      execFile('terraform', [command, '-no-color', ...rest], { cwd: this.dir, env: this.env, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      });
    });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A terraform_data resource and an output: enough for init, apply and destroy fully offline. */
export const dataResource = (input: string) => ({
  resource: { terraform_data: { thing: { input } } },
  output: { value: { value: '${terraform_data.thing.output}' } },
});
