import { Instance } from '@cdktf/provider-aws/lib/instance/index.js';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { SkyloftStack, type NetworkInput } from '../common.ts';
import type { AwsNetworkOutputs } from './network.ts';
import { awsProvider, type AwsStackConfig } from './provider.ts';

export interface AwsVmSpec {
  ami: string;
  instanceType: string;
  /** Inbound rules; none by default (outbound is open). */
  ingress?: Array<{ port: number; protocol?: 'tcp' | 'udp'; cidr?: string }>;
  keyName?: string;
  userData?: string;
  rootVolumeGb?: number;
}

export interface AwsVmConfig extends AwsStackConfig<AwsVmSpec> {
  /** A managed AWS network; without one the vm goes to the region's default VPC and subnet. */
  network?: NetworkInput<Pick<AwsNetworkOutputs, 'vpc_id' | 'subnet_id'>>;
}

/** An EC2 instance with its own security group. */
export class AwsVmStack extends SkyloftStack<AwsVmConfig> {
  constructor(scope: Construct, id: string, input: AwsVmConfig) {
    super(scope, id, input);
    const config = this.config;
    awsProvider(this, config);
    const { spec, network } = config;

    const group = new SecurityGroup(this, 'security-group', {
      name: `skyloft-${config.resourceId}`.toLowerCase(),
      description: `Skyloft vm ${config.resourceId}`,
      vpcId: network?.outputs.vpc_id,
    });
    // Rules as their own resources (the provider's recommendation over inline ingress/egress blocks).
    for (const [i, rule] of (spec.ingress ?? []).entries()) {
      new VpcSecurityGroupIngressRule(this, `ingress-${i}`, {
        securityGroupId: group.id,
        ipProtocol: rule.protocol ?? 'tcp',
        fromPort: rule.port,
        toPort: rule.port,
        cidrIpv4: rule.cidr ?? '0.0.0.0/0',
      });
    }
    new VpcSecurityGroupEgressRule(this, 'egress', { securityGroupId: group.id, ipProtocol: '-1', cidrIpv4: '0.0.0.0/0' });

    const instance = new Instance(this, 'instance', {
      ami: spec.ami,
      instanceType: spec.instanceType,
      subnetId: network?.outputs.subnet_id,
      vpcSecurityGroupIds: [group.id],
      keyName: spec.keyName,
      userData: spec.userData,
      metadataOptions: { httpTokens: 'required' },
      rootBlockDevice: { encrypted: true, volumeSize: spec.rootVolumeGb },
      tags: { Name: config.name },
    });

    new TerraformOutput(this, 'id', { value: instance.id });
    new TerraformOutput(this, 'private_ip', { value: instance.privateIp });
    new TerraformOutput(this, 'public_ip', { value: instance.publicIp });
    new TerraformOutput(this, 'security_group_id', { value: group.id });
  }
}
