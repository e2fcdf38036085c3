import { setTimeout as sleep } from 'node:timers/promises';
import type { Cloud } from './options.ts';
import { Draw } from './random.ts';

/**
 * Injected faults and the per-operation call counter. Every request of every cloud passes through `enter`, which
 * counts it, waits out any latency fault and returns the error fault to answer with, if one fires.
 *
 * Operation names are the cloud's own: EC2/STS actions and 'ListBuckets' / 'GetBucketTagging' for AWS;
 * 'token', 'virtualMachines.list', 'disks.list', 'virtualNetworks.list', 'locations.list', 'subscriptions.get' for
 * Azure; 'token', 'instances.aggregatedList', 'disks.aggregatedList', 'networks.list', 'regions.list' for GCP.
 */
export type FaultKind = 'throttle' | 'server-error' | 'latency' | 'auth';

export interface FaultSpec {
  cloud: Cloud;
  /** Omitted: every operation of the cloud. */
  operation?: string;
  /** AWS region (from the SigV4 scope); omitted: every region. */
  region?: string;
  kind: FaultKind;
  /** Fires on each matching call with this probability (seeded, so a run repeats). Default 1 unless everyNth. */
  probability?: number;
  /** Fires on the Nth, 2Nth, ... matching call instead. */
  everyNth?: number;
  /** Stops firing after this many injections. */
  count?: number;
  /** For 'latency': added delay. Default 1000. */
  latencyMs?: number;
  /** For 'server-error': the status. Default 500 on Azure/GCP, 503 on AWS. */
  status?: number;
  /** For Azure 'throttle': the Retry-After header in seconds. Default 1. */
  retryAfterSeconds?: number;
}

export interface Fault extends FaultSpec {
  id: string;
  /** Matching calls seen so far. */
  matched: number;
  /** Times it fired. */
  injected: number;
}

export class Faults {
  private readonly faults: Fault[] = [];
  private readonly counts = new Map<string, number>();
  private readonly draw: Draw;
  private nextId = 1;

  constructor(seed: number) {
    this.draw = new Draw(seed ^ 0x5eed);
  }

  add(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: `fault-${this.nextId++}`, matched: 0, injected: 0 };
    this.faults.push(fault);
    return fault;
  }

  /** Removes one fault by id, or all of them. */
  clear(id?: string): void {
    const keep = id === undefined ? [] : this.faults.filter((f) => f.id !== id);
    this.faults.splice(0, this.faults.length, ...keep);
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** Calls to one operation: `calls('aws', 'DescribeInstances')`, optionally for one region. */
  calls(cloud: Cloud, operation: string, region?: string): number {
    return this.counts.get(key(cloud, operation, region)) ?? 0;
  }

  /** Every counter, keyed `cloud:operation` and `cloud:operation:region`. */
  allCalls(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  resetCalls(): void {
    this.counts.clear();
  }

  /** Counts the call, sleeps for any latency fault that fires, and returns the first error fault that fires. */
  async enter(cloud: Cloud, operation: string, region?: string): Promise<Fault | undefined> {
    this.bump(key(cloud, operation));
    if (region !== undefined) this.bump(key(cloud, operation, region));
    let latency = 0;
    let error: Fault | undefined;
    for (const f of this.faults) {
      if (f.cloud !== cloud || (f.operation !== undefined && f.operation !== operation)) continue;
      if (f.region !== undefined && f.region !== region) continue;
      if (f.kind !== 'latency' && error) continue;
      if (f.count !== undefined && f.injected >= f.count) continue;
      f.matched++;
      const fires = f.everyNth !== undefined ? f.matched % f.everyNth === 0 : this.draw.next() < (f.probability ?? 1);
      if (!fires) continue;
      f.injected++;
      if (f.kind === 'latency') latency += f.latencyMs ?? 1000;
      else error = f;
    }
    if (latency > 0) await sleep(latency);
    return error;
  }

  private bump(k: string): void {
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
}

function key(cloud: Cloud, operation: string, region?: string): string {
  return region === undefined ? `${cloud}:${operation}` : `${cloud}:${operation}:${region}`;
}
