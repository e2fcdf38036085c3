import { readFileSync } from 'node:fs';

/**
 * `node bench/sdk-listing.ts '<json>'`: the inventory suite's baseline, in a process of its own. Lists every EC2 scope
 * of the emulated fleet with @aws-sdk/client-ec2 alone (NextToken paging, the adapter's page size, the worker's scope
 * concurrency), keeps nothing, and prints {items, seconds, rssMb} (rssMb: this process's peak RSS).
 */
const { endpoint, credentials, regions, page, concurrency } = JSON.parse(process.argv[2]!) as {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  regions: string[];
  page: number;
  concurrency: number;
};
const EC2_KINDS = ['instances', 'volumes', 'vpcs', 'subnets', 'securityGroups'] as const;

const { EC2Client, DescribeInstancesCommand, DescribeVolumesCommand, DescribeVpcsCommand, DescribeSubnetsCommand, DescribeSecurityGroupsCommand } =
  await import('@aws-sdk/client-ec2');
// Configured as src/clouds/aws/clients.ts configures its clients: no SDK retries, no logger middleware.
const clients = new Map(regions.map((region) => {
  const client = new EC2Client({ endpoint, region, maxAttempts: 1, credentials, requestHandler: { connectionTimeout: 10_000 } });
  client.middlewareStack.remove('loggerMiddleware');
  return [region, client];
}));
type Lister = (c: InstanceType<typeof EC2Client>, input: { MaxResults: number; NextToken?: string }) => Promise<{ n: number; next?: string | undefined }>;
const kinds: Record<(typeof EC2_KINDS)[number], Lister> = {
  instances: async (c, i) => { const p = await c.send(new DescribeInstancesCommand(i)); return { n: (p.Reservations ?? []).reduce((s, r) => s + (r.Instances?.length ?? 0), 0), next: p.NextToken }; },
  volumes: async (c, i) => { const p = await c.send(new DescribeVolumesCommand({ ...i, MaxResults: Math.min(i.MaxResults, 500) })); return { n: p.Volumes?.length ?? 0, next: p.NextToken }; },
  vpcs: async (c, i) => { const p = await c.send(new DescribeVpcsCommand(i)); return { n: p.Vpcs?.length ?? 0, next: p.NextToken }; },
  subnets: async (c, i) => { const p = await c.send(new DescribeSubnetsCommand(i)); return { n: p.Subnets?.length ?? 0, next: p.NextToken }; },
  securityGroups: async (c, i) => { const p = await c.send(new DescribeSecurityGroupsCommand(i)); return { n: p.SecurityGroups?.length ?? 0, next: p.NextToken }; },
};
const scopes = regions.flatMap((region) => EC2_KINDS.map((kind) => ({ region, kind })));
let items = 0;
let next = 0;
let retries = 0;
const started = performance.now();
const lane = async () => {
  while (next < scopes.length) {
    const s = scopes[next++]!;
    let NextToken: string | undefined;
    do {
      const input = { MaxResults: page, ...(NextToken && { NextToken }) };
      // A keep-alive socket the emulator closed as the request left ("socket hang up"): retry that page once.
      const answer = await kinds[s.kind](clients.get(s.region)!, input).catch((e: Error) => {
        retries++;
        if (retries > 20) throw e;
        return kinds[s.kind](clients.get(s.region)!, input);
      });
      items += answer.n;
      NextToken = answer.next || undefined;
    } while (NextToken);
  }
};
await Promise.all(Array.from({ length: concurrency }, lane));
const seconds = (performance.now() - started) / 1000;
for (const c of clients.values()) c.destroy();
if (retries > 0) process.stderr.write(`  (${retries} SDK pages retried after a dropped connection)\n`);
const rssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
process.stdout.write(`${JSON.stringify({ items, seconds, rssMb })}\n`);
