import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { awsStacks } from '../../stacks/aws/index.ts';
import { azureStacks } from '../../stacks/azure/index.ts';
import { gcpStacks } from '../../stacks/gcp/index.ts';
import { synthesizeStack, type StackInput } from '../../stacks/index.ts';
import { PINNED_PROVIDERS, type ProviderStacks } from '../../stacks/providers.ts';
import { sandboxStacks } from '../../stacks/sandbox/index.ts';
import { common } from './helpers.ts';
import { checkAgainstSchemas, loadSchemas, type ProviderSchemas } from './schema-check.ts';

const SCHEMA_DIR = join(import.meta.dirname, '../../stacks/schemas');
const schemaFiles = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json')).map((f) => join(SCHEMA_DIR, f));
const schemas = loadSchemas(schemaFiles);

const work = mkdtempSync(join(tmpdir(), 'skyloft-schemas-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ssh = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7 me@example';
const azureImage = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };

/** Every stack Skyloft can emit, each with its optional fields set and (where they differ) without them. */
const STACKS: Array<[string, StackInput]> = [
  ['sandbox vm', { provider: 'sandbox', type: 'vm', ...common, spec: { cpu: 2, provisionSeconds: 1 }, network: { outputs: { network_id: 'n-1' } } }],
  ['sandbox storage', { provider: 'sandbox', type: 'storage', ...common, spec: { sizeGb: 5 } }],
  ['sandbox network', { provider: 'sandbox', type: 'network', ...common, spec: { cidr: '10.0.0.0/16' } }],
  ['aws vm, own network', { provider: 'aws', type: 'vm', ...common, spec: { ami: 'ami-0abc', instanceType: 't3.micro' } }],
  ['aws vm, every option', {
    provider: 'aws', type: 'vm', ...common, endpoint: 'http://127.0.0.1:4566',
    spec: { ami: 'ami-0abc', instanceType: 't3.micro', ingress: [{ port: 22 }, { port: 53, protocol: 'udp', cidr: '10.0.0.0/8' }], keyName: 'k', userData: 'echo hi', rootVolumeGb: 30 },
    network: { outputs: { vpc_id: 'vpc-1', subnet_id: 'subnet-1' } },
  }],
  ['aws storage', { provider: 'aws', type: 'storage', ...common, spec: {} }],
  ['aws storage, every option', { provider: 'aws', type: 'storage', ...common, spec: { bucketName: 'my-bucket', kmsKeyId: 'arn:aws:kms:k', forceDestroy: true } }],
  ['aws network', {
    provider: 'aws', type: 'network', ...common,
    spec: { cidrBlock: '10.0.0.0/16', subnets: [{ cidrBlock: '10.0.1.0/24' }, { cidrBlock: '10.0.2.0/24', availabilityZone: 'eu-west-1b', mapPublicIpOnLaunch: true }] },
  }],
  ['azure vm, own network', { provider: 'azure', type: 'vm', ...common, spec: { size: 'Standard_B1s', adminUsername: 'me', sshPublicKey: ssh, image: azureImage } }],
  ['azure vm, every option', {
    provider: 'azure', type: 'vm', ...common,
    spec: { size: 'Standard_B1s', adminUsername: 'me', sshPublicKey: ssh, image: azureImage, osDiskType: 'Premium_LRS' },
    network: { outputs: { subnet_id: '/subscriptions/s/x/subnets/a' } },
  }],
  ['azure storage', { provider: 'azure', type: 'storage', ...common, spec: {} }],
  ['azure storage, every option', { provider: 'azure', type: 'storage', ...common, spec: { accountName: 'acct1', tier: 'Premium', replication: 'ZRS' } }],
  ['azure network', {
    provider: 'azure', type: 'network', ...common,
    spec: { addressSpace: ['10.1.0.0/16'], subnets: [{ name: 'app', addressPrefix: '10.1.1.0/24' }, { name: 'db', addressPrefix: '10.1.2.0/24' }] },
  }],
  ['gcp vm, default network', { provider: 'gcp', type: 'vm', ...common, spec: { machineType: 'e2-micro', image: 'debian-cloud/debian-12' } }],
  ['gcp vm, every option', {
    provider: 'gcp', type: 'vm', ...common, project: 'p-1',
    spec: { machineType: 'e2-micro', image: 'debian-cloud/debian-12', zone: 'europe-west1-c', diskSizeGb: 20 },
    network: { outputs: { subnetwork_self_link: 'projects/p/regions/r/subnetworks/s' } },
  }],
  ['gcp storage', { provider: 'gcp', type: 'storage', ...common, spec: {} }],
  ['gcp storage, every option', {
    provider: 'gcp', type: 'storage', ...common, project: 'p-1',
    spec: { bucketName: 'b-1', location: 'eu', storageClass: 'NEARLINE', versioning: true, forceDestroy: true },
  }],
  ['gcp network', { provider: 'gcp', type: 'network', ...common, spec: { subnets: [{ name: 'app', ipCidrRange: '10.2.1.0/24' }, { name: 'db', ipCidrRange: '10.2.2.0/24' }] } }],
];

async function synthesized(label: string, input: StackInput): Promise<Record<string, unknown>> {
  const { stackDir } = await synthesizeStack(input, join(work, label.replace(/\W+/g, '-')));
  return JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8')) as Record<string, unknown>;
}

describe('the provider schema subsets', () => {
  it('each names the version it describes, and it is the pinned one', () => {
    const pinned = Object.values(PINNED_PROVIDERS);
    expect(schemaFiles).toHaveLength(pinned.length);
    for (const file of schemaFiles) {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as ProviderSchemas & { skyloft_note: { source: string; version: string } };
      const pin = pinned.find((p) => p.source === doc.skyloft_note.source);
      expect(pin, file).toBeDefined();
      expect(Object.keys(doc.provider_schemas), file).toEqual([`registry.terraform.io/${pin!.source}`]);
      expect(doc.skyloft_note.version, file).toBe(pin!.version);
    }
  });
});

describe('every synthesized stack matches its provider schema', () => {
  it.each(STACKS)('%s', async (label, input) => {
    const doc = await synthesized(label, input);
    expect(Object.keys(doc['resource'] ?? {}).length, 'resources synthesized').toBeGreaterThan(0);
    expect(checkAgainstSchemas(doc, schemas)).toEqual([]);
  });

  it('covers every kind of every provider (stacks/<provider>/index.ts)', () => {
    const all: Record<string, ProviderStacks> = { sandbox: sandboxStacks, aws: awsStacks, azure: azureStacks, gcp: gcpStacks };
    const known = Object.entries(all).flatMap(([p, s]) => Object.keys(s.kinds).map((k) => `${p}/${k}`));
    expect(new Set(STACKS.map(([, s]) => `${s.provider}/${s.type}`))).toEqual(new Set(known));
  });
});

describe('checkAgainstSchemas', () => {
  const block = {
    attributes: {
      name: { type: 'string', required: true },
      size: { type: 'number', optional: true },
      tags: { type: ['map', 'string'], optional: true },
      ids: { type: ['list', 'string'], optional: true },
      self_link: { type: 'string', computed: true },
      zone: { type: 'string', optional: true, computed: true },
    },
    block_types: {
      boot_disk: {
        nesting_mode: 'list', min_items: 1, max_items: 1,
        block: { attributes: { image: { type: 'string', required: true } } },
      },
      rule: { nesting_mode: 'list', block: { attributes: { port: { type: 'number', optional: true } } } },
    },
  };
  const fake: ProviderSchemas[] = [{ provider_schemas: { 'registry.terraform.io/x/fake': { resource_schemas: { fake_vm: { block } } } } }];
  const check = (body: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    checkAgainstSchemas({ resource: { fake_vm: { a: body } }, ...extra }, fake);
  const ok = { name: 'n', boot_disk: [{ image: 'i' }] };

  it('accepts a correct body, meta-arguments, expressions anywhere an attribute is, and a single object for a block', () => {
    expect(check({ ...ok, size: '${var.size}', tags: { a: 'b' }, ids: ['${x.id}'], zone: 'z', provider: 'fake', '//': {} })).toEqual([]);
    expect(check({ name: '${x.name}', boot_disk: { image: 'i' }, rule: [{ port: 1 }, { port: 2 }] })).toEqual([]);
  });

  it('reports a misspelled attribute, in a nested block too', () => {
    expect(check({ ...ok, nmae: 'n' })).toEqual(['resource.fake_vm.a: unknown attribute or block "nmae"']);
    expect(check({ name: 'n', boot_disk: [{ image: 'i', imag: 'i' }] })).toEqual(['resource.fake_vm.a.boot_disk[0]: unknown attribute or block "imag"']);
  });

  it('reports a nested block flattened into its parent, and a block given as an attribute', () => {
    expect(check({ name: 'n', image: 'i' })).toEqual([
      'resource.fake_vm.a: unknown attribute or block "image"',
      'resource.fake_vm.a: required block "boot_disk" is missing',
    ]);
    expect(check({ name: 'n', boot_disk: 'i' })).toEqual(['resource.fake_vm.a: "boot_disk" is a block, given as an attribute ("i")']);
  });

  it('reports an attribute given as a block', () => {
    expect(check({ ...ok, size: [{ value: 1 }] })).toEqual(['resource.fake_vm.a: "size" is an attribute, given as a block']);
  });

  it('reports too many or too few blocks', () => {
    expect(check({ name: 'n', boot_disk: [{ image: 'a' }, { image: 'b' }] })).toEqual(['resource.fake_vm.a: "boot_disk" allows at most 1 block(s), got 2']);
    expect(check({ name: 'n', boot_disk: [] })).toEqual(['resource.fake_vm.a: "boot_disk" needs at least 1 block(s), got 0']);
  });

  it('reports a missing required attribute, in a nested block too', () => {
    expect(check({ boot_disk: [{}] })).toEqual([
      'resource.fake_vm.a.boot_disk[0]: required attribute "image" is missing',
      'resource.fake_vm.a: required attribute "name" is missing',
    ]);
  });

  it('reports a computed-only attribute set', () => {
    expect(check({ ...ok, self_link: 'x' })).toEqual(['resource.fake_vm.a: "self_link" is computed only and cannot be set']);
  });

  it('reports an unknown resource or data source type', () => {
    expect(checkAgainstSchemas({ resource: { fake_vn: { a: ok } }, data: { fake_image: { b: {} } } }, fake)).toEqual([
      'resource.fake_vn: unknown resource type',
      'data.fake_image: unknown data source type',
    ]);
  });
});
