import type { CostLine, CostRange, SandboxAccount } from '../ports.ts';
import { between } from './hash.ts';
import { DECOYS, decoyId } from './world.ts';

export const SANDBOX_CURRENCY = 'USD';
export const SANDBOX_BILLING_ACCOUNT = 'sandbox';
/** The sandbox's service names, as a cloud names its own; `support` is billed to no resource (`unattributed`). */
export const SANDBOX_SERVICES = { vm: 'Sandbox Compute', storage: 'Sandbox Storage', network: 'Sandbox Networking', support: 'Sandbox Support' } as const;
export type SandboxRate = keyof typeof SANDBOX_SERVICES;

/** Bounds of a daily base rate, in ten-thousandths of a dollar; each object's own rate is picked once from its id. */
const RATES: Record<SandboxRate, [number, number]> = { vm: [8_000, 32_000], storage: [500, 3_000], network: [200, 1_200], support: [1_500, 4_000] };
const PAGE = 1_000;
const DAY_MS = 86_400_000;

/**
 * What one object costs on one day, in USD with four decimals: its base rate (a hash of its id) times 90 to 110%
 * (a hash of its id and the day). The same day always costs the same; tests compute exact figures with it.
 */
export function sandboxDailyCost(rate: SandboxRate, key: string, day: string): string {
  const [min, max] = RATES[rate];
  const units = Math.round((between(min, max, 'rate', key) * between(90, 110, 'day', key, day)) / 100);
  return `${Math.floor(units / 10_000)}.${String(units % 10_000).padStart(4, '0')}`;
}

/** One thing the sandbox bills, on every day from `first` to `last` (inclusive). */
export interface Billed {
  service: SandboxRate;
  rate: SandboxRate;
  /** What its figures derive from: the object's id. */
  key: string;
  /** The object's id as inventory knows it, or null for cost of no single resource. */
  resourceId: string | null;
  first: string;
  last: string;
}

export const dayOf = (d: Date): string => d.toISOString().slice(0, 10);
export const addDays = (day: string, n: number): string => dayOf(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS));

/**
 * What the credential's sandbox bills: each object of its resources from the day the resource was created to the day
 * it was destroyed (today while it lives); each decoy since it was created; support since the oldest decoy. A stopped
 * vm costs what its disk costs. An id is billed once, whatever a hand-written state repeats.
 */
export function sandboxBilled(credentialId: string, account: SandboxAccount, today: string): Billed[] {
  const registered = dayOf(account.registeredAt);
  const billed: Billed[] = [];
  for (const r of account.resources) {
    const last = r.live ? today : r.destroyedAt ? dayOf(r.destroyedAt) : undefined;
    if (last) for (const o of r.objects) billed.push({ service: r.type, rate: r.type, key: o.id, resourceId: o.id, first: dayOf(r.createdAt), last });
  }
  for (const d of DECOYS) {
    const id = decoyId(credentialId, d);
    billed.push({ service: d.type, rate: d.status === 'stopped' ? 'storage' : d.type, key: id, resourceId: id, first: addDays(registered, -d.ageDays), last: today });
  }
  const oldest = Math.max(...DECOYS.map((d) => d.ageDays));
  billed.push({ service: 'support', rate: 'support', key: `support:${credentialId}`, resourceId: null, first: addDays(registered, -oldest), last: today });
  const seen = new Set<string>();
  return billed.filter((b) => !seen.has(b.key) && seen.add(b.key));
}

/** The cost lines of `range` (never past today), in pages. */
export function* sandboxCostPages(billed: readonly Billed[], range: CostRange, today: string): Generator<CostLine[]> {
  let page: CostLine[] = [];
  for (const b of billed) {
    const until = [b.last, today, addDays(range.to, -1)].sort()[0]!;
    for (let day = b.first > range.from ? b.first : range.from; day <= until; day = addDays(day, 1)) {
      page.push({
        date: day,
        service: SANDBOX_SERVICES[b.service],
        resourceId: b.resourceId,
        billingAccount: SANDBOX_BILLING_ACCOUNT,
        currency: SANDBOX_CURRENCY,
        amount: sandboxDailyCost(b.rate, b.key, day),
      });
      if (page.length === PAGE) {
        yield page;
        page = [];
      }
    }
  }
  if (page.length > 0) yield page;
}
