import type { Instance, SecurityGroup, Subnet, Tag, Volume, Vpc } from '@aws-sdk/client-ec2';
import type { Bucket } from '@aws-sdk/client-s3';
import type { ObservedItem } from '../ports.ts';

/** EC2 and S3 objects into inventory items: the normalized fields plus the essentials an operator looks at. */
const VM_STATUS: Record<string, string> = {
  pending: 'pending',
  running: 'running',
  stopping: 'stopping',
  'shutting-down': 'stopping',
  stopped: 'stopped',
  terminated: 'terminated',
};

export function tagsOf(tags: Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

export function instanceItem(i: Instance): ObservedItem {
  const tags = tagsOf(i.Tags);
  return {
    externalId: i.InstanceId!,
    name: tags.Name ?? null,
    type: 'vm',
    status: VM_STATUS[i.State?.Name ?? ''] ?? 'unknown',
    tags,
    metadata: {
      instanceType: i.InstanceType ?? null,
      state: i.State?.Name ?? null,
      availabilityZone: i.Placement?.AvailabilityZone ?? null,
      launchTime: iso(i.LaunchTime),
      privateIp: i.PrivateIpAddress ?? null,
      publicIp: i.PublicIpAddress ?? null,
      vpcId: i.VpcId ?? null,
      subnetId: i.SubnetId ?? null,
      imageId: i.ImageId ?? null,
      architecture: i.Architecture ?? null,
      platform: i.PlatformDetails ?? null,
      volumeIds: (i.BlockDeviceMappings ?? []).flatMap((b) => (b.Ebs?.VolumeId ? [b.Ebs.VolumeId] : [])),
    },
  };
}

export function volumeItem(v: Volume): ObservedItem {
  const tags = tagsOf(v.Tags);
  return {
    externalId: v.VolumeId!,
    name: tags.Name ?? null,
    type: 'storage',
    status: v.State ?? 'unknown',
    tags,
    metadata: {
      sizeGb: v.Size ?? null,
      volumeType: v.VolumeType ?? null,
      iops: v.Iops ?? null,
      encrypted: v.Encrypted ?? null,
      availabilityZone: v.AvailabilityZone ?? null,
      createTime: iso(v.CreateTime),
      attachments: (v.Attachments ?? []).map((a) => ({ instanceId: a.InstanceId ?? null, device: a.Device ?? null, state: a.State ?? null })),
    },
  };
}

export function vpcItem(v: Vpc): ObservedItem {
  const tags = tagsOf(v.Tags);
  return {
    externalId: v.VpcId!,
    name: tags.Name ?? null,
    type: 'network',
    status: v.State ?? 'unknown',
    tags,
    metadata: {
      cidrBlock: v.CidrBlock ?? null,
      cidrBlocks: (v.CidrBlockAssociationSet ?? []).flatMap((a) => (a.CidrBlock ? [a.CidrBlock] : [])),
      isDefault: v.IsDefault ?? false,
      ownerId: v.OwnerId ?? null,
    },
  };
}

export function subnetItem(s: Subnet): ObservedItem {
  const tags = tagsOf(s.Tags);
  return {
    externalId: s.SubnetId!,
    name: tags.Name ?? null,
    type: 'network',
    status: s.State ?? 'unknown',
    tags,
    metadata: {
      vpcId: s.VpcId ?? null,
      cidrBlock: s.CidrBlock ?? null,
      availabilityZone: s.AvailabilityZone ?? null,
      availableIpAddressCount: s.AvailableIpAddressCount ?? null,
      mapPublicIpOnLaunch: s.MapPublicIpOnLaunch ?? false,
    },
  };
}

export function securityGroupItem(g: SecurityGroup): ObservedItem {
  const tags = tagsOf(g.Tags);
  return {
    externalId: g.GroupId!,
    name: tags.Name ?? g.GroupName ?? null,
    type: 'network',
    // Security groups have no lifecycle state: listed means it exists.
    status: 'available',
    tags,
    metadata: {
      groupName: g.GroupName ?? null,
      description: g.Description ?? null,
      vpcId: g.VpcId ?? null,
      ingressRules: g.IpPermissions?.length ?? 0,
      egressRules: g.IpPermissionsEgress?.length ?? 0,
    },
  };
}

export function bucketItem(b: Bucket, tags: Record<string, string>, tagsError?: string): ObservedItem {
  return {
    externalId: b.Name!,
    name: b.Name!,
    type: 'storage',
    status: 'available',
    tags,
    metadata: {
      bucketRegion: b.BucketRegion ?? null,
      creationDate: iso(b.CreationDate),
      ...(tagsError && { tagsError }),
    },
  };
}
