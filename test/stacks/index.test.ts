import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { synthesizeStack } from '../../stacks/index.ts';
import { common, skyloftTags } from './helpers.ts';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'skyloft-stacks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Whether @cdktf/provider-aws has been loaded in this process (CommonJS modules land in require.cache). */
const awsLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@cdktf/provider-aws'));

/**
 * Applies a synthesized stack with real terraform, offline. The runner gives the http backend its address through
 * TF_HTTP_*; here the stack runs on local state instead, in a clean environment: nothing from the machine's TF_*
 * settings, no registry, no version check. Returns the terraform command of that folder.
 */
async function applyOnLocalState(stackDir: string, name: string) {
  const doc = JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8'));
  expect(doc.terraform.backend).toEqual({ http: {} });
  delete doc.terraform.backend;
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'cdk.tf.json'), JSON.stringify(doc));
  writeFileSync(join(work, 'empty.tfrc'), '');
  const env = { PATH: process.env['PATH'] ?? '', HOME: work, TF_CLI_CONFIG_FILE: join(work, 'empty.tfrc'), TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
  const tf = (...args: string[]) => run('terraform', args, { cwd: dir, env, timeout: 20_000 });
  await tf('init', '-input=false', '-no-color');
  await tf('apply', '-auto-approve', '-input=false', '-no-color');
  return tf;
}

describe('synthesizeStack', () => {
  it('synthesizes a sandbox vm that real terraform applies offline, outputs included', async () => {
    const { stackDir } = await synthesizeStack(
      {
        provider: 'sandbox',
        type: 'vm',
        ...common,
        name: 'web ${1}',
        spec: { cpu: 2, tags: ['a'] },
        network: { outputs: { network_id: 'net-42' } },
      },
      join(work, 'out'),
    );
    expect(stackDir).toBe(join(work, 'out', 'stacks', 'resource'));

    const tf = await applyOnLocalState(stackDir, 'run');
    const outputs = JSON.parse((await tf('output', '-json')).stdout) as Record<string, { value: unknown }>;

    expect(outputs['id']?.value).toMatch(/^[0-9a-f-]{36}$/);
    expect(outputs['name']?.value).toBe('web ${1}'); // escaped in cdk.tf.json, literal again after apply
    expect(outputs['network_id']?.value).toBe('net-42');

    const state = JSON.parse((await tf('show', '-json')).stdout);
    const input = state.values.root_module.resources[0].values.input;
    expect(input).toMatchObject({ kind: 'vm', spec: { cpu: 2, tags: ['a'] }, tags: skyloftTags });
  });

  it('keeps every template and cdktf token syntax in user strings literal, through real terraform', async () => {
    // Token ids are small sequential numbers, so an attacker can name each one; every marker cdktf knows, and
    // terraform's own template syntax, in values and keys, next to an escape and inside one.
    const attacks: Record<string, string> = { file: '${file("/etc/passwd")}', directive: '%{ if true }x%{ endif }', escaped: '$${x}', nested: '$${TfToken[TOKEN.1]}' };
    for (let n = 0; n < 40; n++) {
      for (const marker of ['$', '#', '&']) attacks[`${marker}${n}`] = `${marker}{TfToken[TOKEN.${n}]}`;
    }
    attacks['#{TfToken[TOKEN.2]}'] = 'as a key';
    const name = 'web #{TfToken[TOKEN.3]} ${TfToken[TOKEN.4]}';
    const { stackDir } = await synthesizeStack({ provider: 'sandbox', type: 'vm', ...common, name, spec: attacks }, join(work, 'tokens'));
    const tf = await applyOnLocalState(stackDir, 'tokens-run');
    const state = JSON.parse((await tf('show', '-json')).stdout);
    const input = state.values.root_module.resources[0].values.input;
    expect(input.spec).toEqual(attacks);
    expect(input.name).toBe(name);
  });

  it('refuses a number cdktf would read as a token reference', async () => {
    // -1.8881545897087626e+289 is how cdktf encodes its first number token.
    for (const n of [-1.8881545897087626e289, -1.7e298, Number.MAX_VALUE]) {
      await expect(synthesizeStack({ provider: 'sandbox', type: 'vm', ...common, spec: { n } }, join(work, `num-${n}`))).rejects.toThrow(/numbers must be within/);
    }
  });

  it('loads a provider binding only for that provider', async () => {
    await synthesizeStack({ provider: 'sandbox', type: 'storage', ...common, spec: {} }, join(work, 'sandbox'));
    await synthesizeStack({ provider: 'gcp', type: 'storage', ...common, spec: {} }, join(work, 'gcp'));
    expect(awsLoaded()).toBe(false);

    const { stackDir } = await synthesizeStack({ provider: 'aws', type: 'storage', ...common, spec: {} }, join(work, 'aws'));
    expect(awsLoaded()).toBe(true); // the check above can see the binding when it is there
    const doc = JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8'));
    expect(Object.keys(doc.resource).sort()).toEqual([
      'aws_s3_bucket',
      'aws_s3_bucket_public_access_block',
      'aws_s3_bucket_server_side_encryption_configuration',
    ]);
  });

  it('refuses an unknown provider or type', async () => {
    await expect(synthesizeStack({ provider: 'ibm', type: 'vm', ...common, spec: {} } as never, join(work, 'x'))).rejects.toThrow(
      /no stack for provider ibm/,
    );
  });
});
