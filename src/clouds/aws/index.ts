import { positive, type AdapterDeps, type CloudInput, type OpenedCloud } from '../toolbox.ts';
import type { ObservedItem, Scope } from '../ports.ts';
import { AwsClients } from './clients.ts';
import { awsCost } from './cost.ts';
import { translateAwsError } from './errors.ts';
import { EC2_KINDS, listBuckets, listEc2 } from './listers.ts';

/**
 * AWS: EC2 instances, volumes, VPCs, subnets and security groups per region, S3 buckets once for the account, and
 * daily cost from Cost Explorer (cost.ts). Every call goes through the shared budget of
 * `${credentialId}:${region}:${service}` (Cost Explorer: `${credentialId}:us-east-1:ce`).
 */
export const S3_KIND = 's3:bucket';

export function openAws(input: CloudInput, deps: AdapterDeps): OpenedCloud {
  const clients = new AwsClients(input, deps.agents);
  const call = deps.caller(translateAwsError);
  const key = (region: string, service: string) => `${input.credentialId}:${region}:${service}`;
  const pageSize = positive(input.options?.pageSize);
  const ctx = { clients, call, key, pageSize };

  async function regions(signal?: AbortSignal): Promise<string[]> {
    if (input.regions && input.regions.length > 0) return input.regions;
    const client = await clients.ec2For(clients.home);
    const { DescribeRegionsCommand } = await import('@aws-sdk/client-ec2');
    // Without AllRegions EC2 answers the enabled regions only: opted-out ones would fail every call with AuthFailure.
    const out = await call(key(clients.home, 'ec2'), (s) => client.send(new DescribeRegionsCommand({}), { abortSignal: s }), signal);
    return (out.Regions ?? []).flatMap((r) => (r.RegionName ? [r.RegionName] : []));
  }

  return {
    inventory: {
      async scopes(): Promise<Scope[]> {
        const kinds = Object.keys(EC2_KINDS);
        const perRegion = (await regions()).flatMap((region) => kinds.map((kind) => ({ region, kind })));
        // Buckets are listed account-wide by one call whatever their region: one global scope, listed completely.
        return [...perRegion, { region: 'global', kind: S3_KIND }];
      },
      list(scope: Scope, signal?: AbortSignal): AsyncIterable<ObservedItem[]> {
        return scope.kind === S3_KIND ? listBuckets(ctx, input.regions ?? undefined, signal) : listEc2(ctx, scope, signal);
      },
    },
    cost: awsCost({ input, clients, deps, call }),
    health: {
      async probe(signal?: AbortSignal): Promise<void> {
        const sts = await clients.stsClient();
        const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
        await call(key(clients.home, 'sts'), (s) => sts.send(new GetCallerIdentityCommand({}), { abortSignal: s }), signal);
      },
    },
  };
}
