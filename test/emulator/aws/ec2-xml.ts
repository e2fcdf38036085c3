import type { Item } from '../fleet.ts';
import { escapeXml as x } from '../http.ts';

/**
 * EC2's XML for each resource, element names checked against @aws-sdk/client-ec2's schemas (a wrong element name
 * parses silently to undefined). An instance comes to about 2 KB: the fields an inventory reads plus the usual
 * bulk (network interface, block devices, tags), not every optional block AWS may add.
 */
export interface Ec2Context {
  accountId: string;
  region: string;
  /** The id of the n-th seeded resource of a kind in this region (modulo its count), for cross references. */
  ref: (kind: string, n: number) => string | undefined;
}

const STATE_CODES: Record<string, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

export function tagSet(tags: Record<string, string>): string {
  const items = Object.entries(tags).map(([k, v]) => `<item><key>${x(k)}</key><value>${x(v)}</value></item>`);
  return `<tagSet>${items.join('')}</tagSet>`;
}

const iso = (d: Date) => d.toISOString();

/** 'eu-west-1' + 'c' → 'euw1-az3', the shape of AWS's zone ids. */
const zoneId = (region: string, zone: string) => {
  const [geo = '', dir = '', n = ''] = region.split('-');
  return `${geo}${dir[0] ?? ''}${n}-az${zone.charCodeAt(zone.length - 1) - 96}`;
};

export function instanceXml(it: Item, c: Ec2Context): string {
  const d = it.draw;
  const ip = `10.${d.int(16)}.${d.int(256)}.${d.between(4, 250)}`;
  const dns = `ip-${ip.replaceAll('.', '-')}.${c.region === 'us-east-1' ? 'ec2' : `${c.region}.compute`}.internal`;
  const vpc = c.ref('vpcs', it.index) ?? `vpc-0${d.hex(16)}`;
  const subnet = c.ref('subnets', it.index) ?? `subnet-0${d.hex(16)}`;
  const sg = c.ref('securityGroups', it.index) ?? `sg-0${d.hex(16)}`;
  const volume = c.ref('volumes', it.index) ?? `vol-0${d.hex(16)}`;
  const eni = `eni-0${d.hex(16)}`;
  const mac = `0e:${d.hex(2)}:${d.hex(2)}:${d.hex(2)}:${d.hex(2)}:${d.hex(2)}`;
  const running = it.state === 'running' || it.state === 'pending';
  const publicIp = running && d.next() < 0.3 ? `${d.between(3, 54)}.${d.int(256)}.${d.int(256)}.${d.between(1, 254)}` : undefined;
  const arm = it.type.includes('g.');
  const launch = iso(it.createdAt);
  const groups = `<groupSet><item><groupId>${sg}</groupId><groupName>${it.tags.team ?? 'default'}-sg</groupName></item></groupSet>`;
  const stopped = it.state === 'stopped' || it.state === 'stopping';
  return `<item><reservationId>r-0${d.hex(16)}</reservationId><ownerId>${c.accountId}</ownerId><groupSet/><instancesSet><item>`
    + `<instanceId>${it.id}</instanceId><imageId>ami-0${d.hex(16)}</imageId>`
    + `<instanceState><code>${STATE_CODES[it.state] ?? 16}</code><name>${x(it.state)}</name></instanceState>`
    + `<privateDnsName>${dns}</privateDnsName><dnsName>${publicIp ? `ec2-${publicIp.replaceAll('.', '-')}.compute-1.amazonaws.com` : ''}</dnsName>`
    + `<reason>${stopped ? `User initiated (${launch.slice(0, 19).replace('T', ' ')} GMT)` : ''}</reason>`
    + `<keyName>${it.tags.team ?? 'ops'}-key</keyName><amiLaunchIndex>0</amiLaunchIndex>`
    + `<instanceType>${x(it.type)}</instanceType><launchTime>${launch}</launchTime>`
    + `<placement><availabilityZoneId>${zoneId(c.region, it.zone)}</availabilityZoneId><availabilityZone>${it.zone}</availabilityZone><tenancy>default</tenancy></placement>`
    + `<monitoring><state>disabled</state></monitoring><subnetId>${subnet}</subnetId><vpcId>${vpc}</vpcId>`
    + `<privateIpAddress>${ip}</privateIpAddress>${publicIp ? `<ipAddress>${publicIp}</ipAddress>` : ''}`
    + groups
    + (stopped ? '<stateReason><code>Client.UserInitiatedShutdown</code><message>Client.UserInitiatedShutdown: User initiated shutdown</message></stateReason>' : '')
    + `<architecture>${arm ? 'arm64' : 'x86_64'}</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName>`
    + `<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><volumeId>${volume}</volumeId><status>attached</status>`
    + `<attachTime>${launch}</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item></blockDeviceMapping>`
    + `<virtualizationType>hvm</virtualizationType>`
    + tagSet(it.tags)
    + `<hypervisor>xen</hypervisor><networkInterfaceSet><item><networkInterfaceId>${eni}</networkInterfaceId>`
    + `<subnetId>${subnet}</subnetId><vpcId>${vpc}</vpcId><ownerId>${c.accountId}</ownerId><status>in-use</status>`
    + `<macAddress>${mac}</macAddress><privateIpAddress>${ip}</privateIpAddress>`
    + `<attachment><attachmentId>eni-attach-0${d.hex(16)}</attachmentId><deviceIndex>0</deviceIndex><status>attached</status>`
    + `<attachTime>${launch}</attachTime><deleteOnTermination>true</deleteOnTermination></attachment></item></networkInterfaceSet>`
    + `<ebsOptimized>${!it.type.startsWith('t')}</ebsOptimized><enaSupport>true</enaSupport>`
    + `<cpuOptions><coreCount>${d.pick([1, 2, 4])}</coreCount><threadsPerCore>${arm ? 1 : 2}</threadsPerCore></cpuOptions>`
    + '<metadataOptions><state>applied</state><httpTokens>required</httpTokens></metadataOptions>'
    + '<platformDetails>Linux/UNIX</platformDetails></item></instancesSet></item>';
}

export function volumeXml(it: Item, c: Ec2Context): string {
  const d = it.draw;
  const attached = it.state === 'in-use';
  const instance = c.ref('instances', it.index);
  const iops = it.type === 'io2' ? d.between(1000, 16000) : it.type === 'gp3' ? 3000 : Math.max(100, it.sizeGb * 3);
  return `<item><volumeId>${it.id}</volumeId><size>${it.sizeGb}</size><snapshotId>${d.next() < 0.5 ? `snap-0${d.hex(16)}` : ''}</snapshotId>`
    + `<availabilityZone>${it.zone}</availabilityZone><status>${x(it.state)}</status><createTime>${iso(it.createdAt)}</createTime>`
    + (attached && instance
      ? `<attachmentSet><item><volumeId>${it.id}</volumeId><instanceId>${instance}</instanceId><device>/dev/xvda</device>`
        + `<status>attached</status><attachTime>${iso(it.createdAt)}</attachTime><deleteOnTermination>true</deleteOnTermination></item></attachmentSet>`
      : '<attachmentSet/>')
    + tagSet(it.tags)
    + `<volumeType>${x(it.type)}</volumeType><iops>${iops}</iops>${it.type === 'gp3' ? '<throughput>125</throughput>' : ''}`
    + `<encrypted>${d.next() < 0.7}</encrypted><multiAttachEnabled>false</multiAttachEnabled><ownerId>${c.accountId}</ownerId></item>`;
}

export function vpcXml(it: Item, c: Ec2Context): string {
  const cidr = `10.${it.index % 256}.0.0/16`;
  return `<item><vpcId>${it.id}</vpcId><ownerId>${c.accountId}</ownerId><state>${x(it.state)}</state><cidrBlock>${cidr}</cidrBlock>`
    + `<cidrBlockAssociationSet><item><cidrBlock>${cidr}</cidrBlock><associationId>vpc-cidr-assoc-0${it.draw.hex(16)}</associationId>`
    + `<cidrBlockState><state>associated</state></cidrBlockState></item></cidrBlockAssociationSet>`
    + `<dhcpOptionsId>dopt-0${it.draw.hex(16)}</dhcpOptionsId>${tagSet(it.tags)}<instanceTenancy>default</instanceTenancy>`
    + `<isDefault>${it.index === 0}</isDefault><blockPublicAccessStates><internetGatewayBlockMode>off</internetGatewayBlockMode></blockPublicAccessStates></item>`;
}

export function subnetXml(it: Item, c: Ec2Context): string {
  const vpc = c.ref('vpcs', it.index) ?? `vpc-0${it.draw.hex(16)}`;
  const cidr = `10.${it.index % 256}.${it.index % 16}.0/20`;
  return `<item><subnetId>${it.id}</subnetId><subnetArn>arn:aws:ec2:${c.region}:${c.accountId}:subnet/${it.id}</subnetArn>`
    + `<state>${x(it.state)}</state><ownerId>${c.accountId}</ownerId><vpcId>${vpc}</vpcId><cidrBlock>${cidr}</cidrBlock>`
    + `<ipv6CidrBlockAssociationSet/><availableIpAddressCount>${it.draw.between(100, 4091)}</availableIpAddressCount>`
    + `<availabilityZone>${it.zone}</availabilityZone><availabilityZoneId>${zoneId(c.region, it.zone)}</availabilityZoneId>`
    + `<defaultForAz>false</defaultForAz><mapPublicIpOnLaunch>${it.type === 'public'}</mapPublicIpOnLaunch>`
    + `<assignIpv6AddressOnCreation>false</assignIpv6AddressOnCreation>${tagSet(it.tags)}</item>`;
}

export function securityGroupXml(it: Item, c: Ec2Context): string {
  const vpc = c.ref('vpcs', it.index) ?? `vpc-0${it.draw.hex(16)}`;
  const name = `${it.tags.team ?? 'default'}-sg-${it.index}`;
  return `<item><ownerId>${c.accountId}</ownerId><groupId>${it.id}</groupId><groupName>${name}</groupName>`
    + `<groupDescription>Managed by ${x(it.tags.team ?? 'ops')}</groupDescription><vpcId>${vpc}</vpcId>`
    + `<securityGroupArn>arn:aws:ec2:${c.region}:${c.accountId}:security-group/${it.id}</securityGroupArn>`
    + '<ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort><groups/>'
    + '<ipRanges><item><cidrIp>0.0.0.0/0</cidrIp><description>https</description></item></ipRanges><ipv6Ranges/><prefixListIds/></item></ipPermissions>'
    + '<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges>'
    + `<ipv6Ranges/><prefixListIds/></item></ipPermissionsEgress>${tagSet(it.tags)}</item>`;
}

export function regionXml(name: string, optInStatus: string): string {
  return `<item><regionName>${name}</regionName><regionEndpoint>ec2.${name}.amazonaws.com</regionEndpoint><optInStatus>${optInStatus}</optInStatus></item>`;
}
