import { InvalidPageToken, type Fleet, type Item } from '../fleet.ts';
import { requestId, xml, type Response } from '../http.ts';
import type { Resolved } from '../options.ts';
import { awsError } from './errors.ts';
import { instanceXml, regionXml, securityGroupXml, subnetXml, volumeXml, vpcXml, type Ec2Context } from './ec2-xml.ts';

/**
 * EC2's Describe* actions over the seeded fleet of the region named in the request's SigV4 scope, paged with
 * MaxResults/NextToken within the bounds EC2 enforces. Without MaxResults EC2 returns everything; the emulator
 * stops at the maximum page and hands out a NextToken instead, so a huge fleet never becomes one huge document.
 */
interface Describe {
  kind: string;
  set: string;
  idParam: string;
  notFound: string;
  max: number;
  render: (it: Item, c: Ec2Context) => string;
}

const DESCRIBE: Record<string, Describe> = {
  DescribeInstances: { kind: 'instances', set: 'reservationSet', idParam: 'InstanceId', notFound: 'InvalidInstanceID.NotFound', max: 1000, render: instanceXml },
  DescribeVolumes: { kind: 'volumes', set: 'volumeSet', idParam: 'VolumeId', notFound: 'InvalidVolume.NotFound', max: 500, render: volumeXml },
  DescribeVpcs: { kind: 'vpcs', set: 'vpcSet', idParam: 'VpcId', notFound: 'InvalidVpcID.NotFound', max: 1000, render: vpcXml },
  DescribeSubnets: { kind: 'subnets', set: 'subnetSet', idParam: 'SubnetId', notFound: 'InvalidSubnetID.NotFound', max: 1000, render: subnetXml },
  DescribeSecurityGroups: { kind: 'securityGroups', set: 'securityGroupInfo', idParam: 'GroupId', notFound: 'InvalidGroup.NotFound', max: 1000, render: securityGroupXml },
};

/** A real region this account has not opted into: listed only with AllRegions=true, and calls to it fail. */
export const NOT_OPTED_IN_REGION = 'ap-east-1';

const NS = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"';

export function ec2(action: string, params: URLSearchParams, region: string, accountId: string, fleet: Fleet, opts: Resolved): Response {
  if (action === 'DescribeRegions') return describeRegions(params, opts);
  const d = DESCRIBE[action];
  if (!d) return awsError('ec2', 400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
  if (region === NOT_OPTED_IN_REGION && !opts.aws.regions.includes(region)) {
    return awsError('ec2', 401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
  }
  const filter = [...params.keys()].find((k) => k.startsWith('Filter.'));
  if (filter) {
    return awsError('ec2', 400, 'InvalidParameterValue', `The emulator does not implement filters (${filter}=${params.get(filter)}): list without filters and filter the results`);
  }
  const related = new Map(['instances', 'volumes', 'vpcs', 'subnets', 'securityGroups'].map((k) => [k, fleet.scopes('aws', k, region)[0]]));
  const c: Ec2Context = {
    accountId,
    region,
    ref: (kind, n) => {
      const scope = related.get(kind);
      return scope && scope.base > 0 ? fleet.idOf(scope, n % scope.base) : undefined;
    },
  };
  const ids = [...params.entries()].filter(([k]) => k.startsWith(`${d.idParam}.`)).map(([, v]) => v);
  let items: Item[];
  let nextToken: string | undefined;
  if (ids.length > 0) {
    items = [];
    for (const id of ids) {
      const it = fleet.find(id);
      if (!it || it.scope.kind !== d.kind || it.scope.region !== region) return awsError('ec2', 400, d.notFound, `The ID '${id}' does not exist`);
      items.push(it);
    }
  } else {
    const max = params.get('MaxResults');
    const limit = max === null ? d.max : Number(max);
    if (!Number.isInteger(limit) || limit < 5 || limit > d.max) {
      return awsError('ec2', 400, 'InvalidParameterValue', `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between 5 and ${d.max}.`);
    }
    try {
      ({ items, nextToken } = fleet.page(fleet.scopes('aws', d.kind, region), params.get('NextToken') ?? undefined, limit));
    } catch (err) {
      if (err instanceof InvalidPageToken) return awsError('ec2', 400, 'InvalidParameterValue', `The token '${params.get('NextToken')}' is invalid.`);
      throw err;
    }
  }
  const body = items.map((it) => d.render(it, c)).join('');
  const next = nextToken ? `<nextToken>${nextToken}</nextToken>` : '';
  return xml(200, `<${action}Response ${NS}><requestId>${requestId()}</requestId><${d.set}>${body}</${d.set}>${next}</${action}Response>`);
}

function describeRegions(params: URLSearchParams, opts: Resolved): Response {
  const all = params.get('AllRegions') === 'true';
  const named = [...params.entries()].filter(([k]) => k.startsWith('RegionName.')).map(([, v]) => v);
  const regions = opts.aws.regions.map((r) => [r, 'opt-in-not-required']);
  if (all && !opts.aws.regions.includes(NOT_OPTED_IN_REGION)) regions.push([NOT_OPTED_IN_REGION, 'not-opted-in']);
  const shown = regions.filter(([r]) => named.length === 0 || named.includes(r!));
  const body = shown.map(([r, s]) => regionXml(r!, s!)).join('');
  return xml(200, `<DescribeRegionsResponse ${NS}><requestId>${requestId()}</requestId><regionInfo>${body}</regionInfo></DescribeRegionsResponse>`);
}
