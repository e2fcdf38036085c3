import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { DescribeVpcsCommand, EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm run emulator` as its own process, driven only over HTTP: the JSON line it prints, the control API, and a
 * 100,000-instance fleet paged through the real SDK while the emulator's heap stays flat.
 */
const ROOT = resolve(import.meta.dirname, '../..');

interface Started {
  aws: string;
  azure: string;
  gcp: string;
  caCert: string;
  credentials: { aws: { accessKeyId: string; secretAccessKey: string } };
}

let child: ChildProcess;
let started: Started;
let stderr = '';

beforeAll(async () => {
  child = spawn('npm', ['run', '--silent', 'emulator', '--', '--port', '0', '--seed', '9', '--aws-regions', 'us-east-1', '--aws-instances', '100000'], {
    cwd: ROOT,
    // --expose-gc lets /_emulator/stats?gc=1 collect before measuring, so heap figures compare.
    env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH ?? ''}`, NODE_OPTIONS: '--expose-gc' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  started = await new Promise<Started>((ok, fail) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{') && l.endsWith('}'));
      if (line) ok(JSON.parse(line) as Started);
    });
    child.once('exit', (code) => fail(new Error(`npm run emulator exited with ${code} before printing its URLs:\n${out}\n${stderr}`)));
  });
}, 60_000);

afterAll(() => {
  if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
});

const ec2 = () => new EC2Client({ endpoint: started.aws, region: 'us-east-1', credentials: started.credentials.aws, maxAttempts: 3 });

async function control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${started.aws}/_emulator/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

describe('npm run emulator', () => {
  it('prints its three origins and the CA certificate path as one JSON line', () => {
    expect(started.aws).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.azure).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(started.gcp).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.caCert).toMatch(/ca\.pem$/);
  });

  it('takes mutations and faults over its HTTP control API', async () => {
    const [id] = (await control('GET', 'ids?cloud=aws&kind=vpcs&region=us-east-1&limit=1')).ids as string[];
    const result = await control('POST', 'mutate', { create: [{ cloud: 'aws', kind: 'vpcs', region: 'us-east-1', tags: { team: 'new' } }], delete: [id], change: [{ id: 'vpc-0nothing', state: 'x' }] });
    expect(result).toMatchObject({ created: [expect.stringMatching(/^vpc-/)], deleted: [id], missing: ['vpc-0nothing'] });
    const vpcs = await ec2().send(new DescribeVpcsCommand({}));
    expect(vpcs.Vpcs?.map((v) => v.VpcId)).toEqual(expect.arrayContaining(result.created));
    expect(vpcs.Vpcs?.map((v) => v.VpcId)).not.toContain(id);

    await control('POST', 'faults', { add: [{ cloud: 'aws', operation: 'DescribeVpcs', kind: 'throttle', count: 1 }] });
    await control('POST', 'calls/reset');
    await ec2().send(new DescribeVpcsCommand({}));
    expect((await control('GET', 'calls'))['aws:DescribeVpcs:us-east-1']).toBe(2);
    expect((await control('GET', 'faults')).faults[0]).toMatchObject({ kind: 'throttle', injected: 1 });
    const bad = await fetch(`${started.aws}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ add: [{ cloud: 'aws', kind: 'flood' }] }) });
    expect(bad.status).toBe(400);
  });

  it('pages 100,000 instances through the SDK without its heap growing with the fleet', { timeout: 120_000 }, async () => {
    const stats = async () => (await control('GET', 'stats?gc=1')) as { memory: NodeJS.MemoryUsage; collected: boolean };
    let seen = 0;
    let baseline: NodeJS.MemoryUsage | undefined;
    for await (const page of paginateDescribeInstances({ client: ec2(), pageSize: 1000 }, {})) {
      seen += page.Reservations?.length ?? 0;
      if (!baseline) baseline = (await stats()).memory;
    }
    expect(seen).toBe(100_000);
    const after = await stats();
    expect(after.collected).toBe(true);
    // 100,000 instances are about 250 MB of XML; kept objects would show here as well over 100 MB.
    const grownMb = (after.memory.heapUsed - baseline!.heapUsed) / 2 ** 20;
    expect(grownMb).toBeLessThan(10);
    expect(after.memory.rss / 2 ** 20).toBeLessThan(400);
  });
});
