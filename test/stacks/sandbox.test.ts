import { DataResource } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { SandboxNetworkStack } from '../../stacks/sandbox/network.ts';
import { SandboxStorageStack } from '../../stacks/sandbox/storage.ts';
import { SandboxVmStack } from '../../stacks/sandbox/vm.ts';
import { common, expectEmptyHttpBackend, only, skyloftTags, synth } from './helpers.ts';

describe('sandbox stacks (terraform_data)', () => {
  it('vm: the spec, the network id and the tags land in input; no provider at all', () => {
    const spec = { cpu: 2, disks: [{ gb: 10 }], nested: { ok: true, none: null } };
    const { json, doc } = synth((app) =>
      new SandboxVmStack(app, 'vm', { ...common, spec, network: { outputs: { network_id: 'net-123' } } }),
    );

    expect(json).toHaveResourceWithProperties(DataResource, {
      input: { kind: 'vm', name: 'web 1', region: 'eu-west-1', spec, network_id: 'net-123', tags: skyloftTags },
    });
    expectEmptyHttpBackend(doc);
    expect(doc.provider).toBeUndefined();
    expect(doc.terraform.required_providers).toBeUndefined();
    expect(doc.output).toEqual({
      id: { value: '${terraform_data.vm.id}' },
      name: { value: '${terraform_data.vm.output["name"]}' },
      network_id: { value: '${terraform_data.vm.output["network_id"]}' },
    });
  });

  it('vm: user strings are literals for terraform, never templates', () => {
    const { doc } = synth((app) =>
      new SandboxVmStack(app, 'vm', { ...common, name: 'a ${file("/etc/passwd")}', spec: { '${k}': '%{ if x }' } }),
    );
    const input = only(doc, 'terraform_data')['input'] as Record<string, unknown>;
    expect(input['name']).toBe('a $${file("/etc/passwd")}');
    expect(input['spec']).toEqual({ '$${k}': '%%{ if x }' });
    expect(input).not.toHaveProperty('network_id');
  });

  it('vm: refuses a spec over 64 KB', () => {
    const spec = { blob: 'x'.repeat(64 * 1024) };
    expect(() => synth((app) => new SandboxVmStack(app, 'vm', { ...common, spec }))).toThrow(/more than 65536/);
  });

  it('storage: one terraform_data with spec and tags, id and name outputs', () => {
    const { json, doc } = synth((app) => new SandboxStorageStack(app, 'st', { ...common, spec: { sizeGb: 5 } }));
    expect(json).toHaveResourceWithProperties(DataResource, {
      // cdktf's jest matchers compare nested values exactly: objectContaining makes `input` partial too.
      input: expect.objectContaining({ kind: 'storage', name: 'web 1', spec: { sizeGb: 5 }, tags: skyloftTags }),
    });
    expectEmptyHttpBackend(doc);
    expect(Object.keys(doc.output).sort()).toEqual(['id', 'name']);
  });

  it('network: one terraform_data, and a network_id output for vms', () => {
    const { json, doc } = synth((app) => new SandboxNetworkStack(app, 'net', { ...common, spec: { cidr: '10.0.0.0/16' } }));
    expect(json).toHaveResourceWithProperties(DataResource, {
      input: expect.objectContaining({ kind: 'network', spec: { cidr: '10.0.0.0/16' }, tags: skyloftTags }),
    });
    expectEmptyHttpBackend(doc);
    expect(doc.output['network_id']).toEqual({ value: '${terraform_data.network.id}' });
  });
});
