import { describe, expect, it } from 'vitest';
import { holdsNoResources } from '../../src/modules/provisioning/state-contents.ts';

const state = (resources: unknown) => Buffer.from(JSON.stringify({ version: 4, serial: 3, lineage: 'l', outputs: {}, resources }));
const managed = (instances: unknown[]) => ({ mode: 'managed', type: 'terraform_data', name: 'vm', instances });

describe('a state that holds nothing to destroy', () => {
  it('is no state, no resources, only data sources, or resources without instances', () => {
    expect(holdsNoResources(null)).toBe(true);
    expect(holdsNoResources(state([]))).toBe(true);
    expect(holdsNoResources(state([{ mode: 'data', type: 'aws_ami', name: 'a', instances: [{}] }, managed([])]))).toBe(true);
  });

  it('is not a state with a managed instance, nor anything that does not parse as a state (terraform decides then)', () => {
    expect(holdsNoResources(state([managed([{ attributes: { id: 'x' } }])]))).toBe(false);
    expect(holdsNoResources(state([{ type: 'terraform_data', name: 'vm' }]))).toBe(false); // no instances list: not known empty
    for (const odd of ['not json', '[]', 'null', '{}', '{"resources": {}}', '{"resources": [null]}']) {
      expect(holdsNoResources(Buffer.from(odd)), odd).toBe(false);
    }
  });
});
