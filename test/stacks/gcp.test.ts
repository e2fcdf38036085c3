import { describe, expect, it } from 'vitest';
import { GcpNetworkStack } from '../../stacks/gcp/network.ts';
import { GcpStorageStack } from '../../stacks/gcp/storage.ts';
import { GcpVmStack } from '../../stacks/gcp/vm.ts';
import { common, expectEmptyHttpBackend, expectNoCredentials, expectTagged, only, skyloftTags, synth, tf, type TfDoc } from './helpers.ts';

const gcp = { ...common, region: 'europe-west1' };

/** google from hashicorp/google with region (and project when given) only: no credentials. */
function expectGoogleProvider(doc: TfDoc, block: Record<string, unknown> = { region: 'europe-west1' }): void {
  expect(doc.provider?.['google']).toEqual([block]);
  expect(doc.terraform.required_providers?.['google']).toMatchObject({ source: 'hashicorp/google' });
  expectNoCredentials(doc);
  expectEmptyHttpBackend(doc);
}

describe('gcp stacks (generic google constructs)', () => {
  it('vm: a compute instance on the network subnetwork, labelled', () => {
    const network = { outputs: { subnetwork_self_link: 'https://www.googleapis.com/compute/v1/projects/p/regions/europe-west1/subnetworks/app' } };
    const spec = { machineType: 'e2-micro', image: 'debian-cloud/debian-12', diskSizeGb: 20 };
    const { json, doc } = synth((app) => new GcpVmStack(app, 'vm', { ...gcp, project: 'my-project', spec, network }));

    expect(json).toHaveResourceWithProperties(tf('google_compute_instance'), {
      name: 'web-1',
      zone: 'europe-west1-a',
      machine_type: 'e2-micro',
      boot_disk: [{ initialize_params: [{ image: 'debian-cloud/debian-12', size: 20 }] }],
      network_interface: [{ subnetwork: network.outputs.subnetwork_self_link }],
      labels: skyloftTags,
    });
    expectTagged(doc, ['google_compute_instance'], 'labels');
    expect(doc.output['private_ip']).toEqual({ value: '${google_compute_instance.instance.network_interface[0].network_ip}' });
    expectGoogleProvider(doc, { region: 'europe-west1', project: 'my-project' });
  });

  it('vm: without a network it joins the default network', () => {
    const { doc } = synth((app) => new GcpVmStack(app, 'vm', { ...gcp, spec: { machineType: 'e2-micro', image: 'debian-12', zone: 'europe-west1-c' } }));
    const instance = only(doc, 'google_compute_instance');
    expect(instance['network_interface']).toEqual([{ network: 'default' }]);
    expect(instance['zone']).toBe('europe-west1-c');
    expectGoogleProvider(doc);
  });

  it('storage: a bucket with uniform access and public access prevention, labelled', () => {
    const { json, doc } = synth((app) => new GcpStorageStack(app, 'st', { ...gcp, spec: { versioning: true } }));
    expect(json).toHaveResourceWithProperties(tf('google_storage_bucket'), {
      name: 'skyloft-web-1-res-01jabcdef',
      location: 'EUROPE-WEST1',
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: [{ enabled: true }],
      force_destroy: false,
    });
    expectTagged(doc, ['google_storage_bucket'], 'labels');
    expectGoogleProvider(doc);
  });

  it('network: a custom-mode network and its subnetworks, with the outputs a vm consumes', () => {
    const spec = { subnets: [{ name: 'app', ipCidrRange: '10.2.1.0/24' }] };
    const { json, doc } = synth((app) => new GcpNetworkStack(app, 'net', { ...gcp, spec }));

    expect(json).toHaveResourceWithProperties(tf('google_compute_network'), { name: 'web-1', auto_create_subnetworks: false });
    expect(json).toHaveResourceWithProperties(tf('google_compute_subnetwork'), {
      name: 'app',
      region: 'europe-west1',
      network: '${google_compute_network.network.id}',
      ip_cidr_range: '10.2.1.0/24',
    });
    // Networks and subnetworks take no labels in GCP: the aspect leaves them alone.
    expect(only(doc, 'google_compute_network')).not.toHaveProperty('labels');
    expect(only(doc, 'google_compute_subnetwork')).not.toHaveProperty('labels');
    expect(doc.output['subnetwork_self_link']).toEqual({ value: '${google_compute_subnetwork.subnetwork-0.self_link}' });
    expectGoogleProvider(doc);
  });
});
