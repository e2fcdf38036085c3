import type * as Ec2 from '@aws-sdk/client-ec2';
import type { Bucket } from '@aws-sdk/client-s3';
import type { CloudCall } from '../toolbox.ts';
import { CloudAuthError, type ObservedItem, type Scope } from '../ports.ts';
import type { AwsClients } from './clients.ts';
import { bucketItem, instanceItem, securityGroupItem, subnetItem, tagsOf, volumeItem, vpcItem } from './normalize.ts';

/**
 * The page loops. NextToken loops by hand rather than the SDK's paginators: each page is its own budgeted call, so a
 * throttled page is retried alone instead of ending the iteration.
 */
export interface AwsContext {
  clients: AwsClients;
  call: CloudCall;
  key: (region: string, service: string) => string;
  pageSize: number | undefined;
}

type Sdk = typeof Ec2;
type Page = { NextToken?: string | undefined };

interface Ec2Kind {
  /** EC2's MaxResults ceiling for this action. */
  max: number;
  send: (sdk: Sdk, client: Ec2.EC2Client, input: { MaxResults: number; NextToken?: string }, signal: AbortSignal) => Promise<Page>;
  items: (page: Page) => ObservedItem[];
}

export const EC2_KINDS: Record<string, Ec2Kind> = {
  'ec2:instance': {
    max: 1000,
    send: (sdk, c, input, s) => c.send(new sdk.DescribeInstancesCommand(input), { abortSignal: s }),
    items: (p) => ((p as Ec2.DescribeInstancesResult).Reservations ?? []).flatMap((r) => (r.Instances ?? []).map(instanceItem)),
  },
  'ec2:volume': {
    max: 500,
    send: (sdk, c, input, s) => c.send(new sdk.DescribeVolumesCommand(input), { abortSignal: s }),
    items: (p) => ((p as Ec2.DescribeVolumesResult).Volumes ?? []).map(volumeItem),
  },
  'ec2:vpc': {
    max: 1000,
    send: (sdk, c, input, s) => c.send(new sdk.DescribeVpcsCommand(input), { abortSignal: s }),
    items: (p) => ((p as Ec2.DescribeVpcsResult).Vpcs ?? []).map(vpcItem),
  },
  'ec2:subnet': {
    max: 1000,
    send: (sdk, c, input, s) => c.send(new sdk.DescribeSubnetsCommand(input), { abortSignal: s }),
    items: (p) => ((p as Ec2.DescribeSubnetsResult).Subnets ?? []).map(subnetItem),
  },
  'ec2:security-group': {
    max: 1000,
    send: (sdk, c, input, s) => c.send(new sdk.DescribeSecurityGroupsCommand(input), { abortSignal: s }),
    items: (p) => ((p as Ec2.DescribeSecurityGroupsResult).SecurityGroups ?? []).map(securityGroupItem),
  },
};

/** EC2 accepts MaxResults from 5 to the action's ceiling. */
const clamp = (size: number | undefined, max: number) => Math.min(max, Math.max(5, Math.floor(size ?? max)));

export async function* listEc2(ctx: AwsContext, scope: Scope, signal?: AbortSignal): AsyncGenerator<ObservedItem[]> {
  const kind = EC2_KINDS[scope.kind];
  if (!kind) throw new Error(`Unknown AWS inventory kind '${scope.kind}'`);
  const sdk = await import('@aws-sdk/client-ec2');
  const client = await ctx.clients.ec2For(scope.region);
  const key = ctx.key(scope.region, 'ec2');
  const MaxResults = clamp(ctx.pageSize, kind.max);
  let NextToken: string | undefined;
  do {
    const input = { MaxResults, ...(NextToken && { NextToken }) };
    const page = await ctx.call(key, (s) => kind.send(sdk, client, input, s), signal);
    NextToken = page.NextToken || undefined;
    const items = kind.items(page);
    // EC2 may answer an empty page with a NextToken; only yield what there is, keep paging until the token ends.
    if (items.length > 0) yield items;
  } while (NextToken);
}

const TAG_CONCURRENCY = 8;

/**
 * Buckets, with their tags (GetBucketTagging, one call per bucket, in the bucket's region): the tags are how Skyloft
 * recognises the buckets it manages. A bucket without tags answers NoSuchTagSet; one whose tags we may not read
 * keeps empty tags and says why in metadata rather than failing the account's whole bucket listing.
 */
export async function* listBuckets(ctx: AwsContext, regions: string[] | undefined, signal?: AbortSignal): AsyncGenerator<ObservedItem[]> {
  const { ListBucketsCommand } = await import('@aws-sdk/client-s3');
  const client = await ctx.clients.s3For();
  const key = ctx.key('global', 's3');
  const MaxBuckets = Math.min(10_000, Math.max(1, Math.floor(ctx.pageSize ?? 1000)));
  let ContinuationToken: string | undefined;
  do {
    const input = { MaxBuckets, ...(ContinuationToken && { ContinuationToken }) };
    const page = await ctx.call(key, (s) => client.send(new ListBucketsCommand(input), { abortSignal: s }), signal);
    ContinuationToken = page.ContinuationToken || undefined;
    const buckets = (page.Buckets ?? []).filter((b) => b.Name && (!regions?.length || !b.BucketRegion || regions.includes(b.BucketRegion)));
    const items: ObservedItem[] = [];
    for (let i = 0; i < buckets.length; i += TAG_CONCURRENCY) {
      const batch = await Promise.all(buckets.slice(i, i + TAG_CONCURRENCY).map((b) => bucketWithTags(ctx, key, b, signal)));
      for (const item of batch) if (item) items.push(item);
    }
    if (items.length > 0) yield items;
  } while (ContinuationToken);
}

async function bucketWithTags(ctx: AwsContext, key: string, bucket: Bucket, signal?: AbortSignal): Promise<ObservedItem | undefined> {
  const { GetBucketTaggingCommand } = await import('@aws-sdk/client-s3');
  const client = await ctx.clients.s3For(bucket.BucketRegion);
  const read = (s: AbortSignal) =>
    client.send(new GetBucketTaggingCommand({ Bucket: bucket.Name! }), { abortSignal: s }).catch((err: { name?: string }) => {
      if (err.name === 'NoSuchTagSet') return { TagSet: [] };
      // Deleted between the listing and this call: it is gone, so it is not part of the inventory.
      if (err.name === 'NoSuchBucket') return undefined;
      throw err;
    });
  try {
    const out = await ctx.call(key, read, signal);
    return out && bucketItem(bucket, tagsOf(out.TagSet));
  } catch (err) {
    const name = (err as { cause?: { name?: string } }).cause?.name;
    if (err instanceof CloudAuthError && (name === 'AccessDenied' || name === 'AccessDeniedException')) return bucketItem(bucket, {}, name);
    throw err;
  }
}
