import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { idList, SkyloftStack } from '../common.ts';
import { awsProvider, type AwsStackConfig } from './provider.ts';

export interface AwsNetworkSpec {
  /** The VPC's IPv4 range, e.g. `10.0.0.0/16`. */
  cidrBlock: string;
  /** At least one; the first is the one a vm joins by default. */
  subnets: Array<{ cidrBlock: string; availabilityZone?: string; mapPublicIpOnLaunch?: boolean }>;
}

export type AwsNetworkConfig = AwsStackConfig<AwsNetworkSpec>;

/** What an AWS network publishes; an AWS vm takes `vpc_id` and `subnet_id`. */
export interface AwsNetworkOutputs {
  vpc_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

/** An AWS network: a VPC and its subnets. */
export class AwsNetworkStack extends SkyloftStack<AwsNetworkConfig> {
  constructor(scope: Construct, id: string, input: AwsNetworkConfig) {
    super(scope, id, input);
    const config = this.config;
    if (config.spec.subnets.length === 0) throw new RangeError('an AWS network needs at least one subnet');
    awsProvider(this, config);

    const vpc = new Vpc(this, 'vpc', {
      cidrBlock: config.spec.cidrBlock,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { Name: config.name },
    });
    const subnets = config.spec.subnets.map(
      (s, i) =>
        new Subnet(this, `subnet-${i}`, {
          vpcId: vpc.id,
          cidrBlock: s.cidrBlock,
          availabilityZone: s.availabilityZone,
          mapPublicIpOnLaunch: s.mapPublicIpOnLaunch ?? false,
          tags: { Name: `${config.name}-${i}` },
        }),
    );

    new TerraformOutput(this, 'id', { value: vpc.id });
    new TerraformOutput(this, 'vpc_id', { value: vpc.id });
    new TerraformOutput(this, 'subnet_id', { value: subnets[0]!.id });
    new TerraformOutput(this, 'subnet_ids', { value: idList(subnets) });
  }
}
