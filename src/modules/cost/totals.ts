import type { CostLine } from '../../clouds/ports.ts';
import { DecimalSum } from '../../shared/decimal.ts';

/** A cost_keys row as a collection knows it: its id and the (service, currency) its per-day total goes to. */
export interface CostKey {
  id: string;
  group: number;
}

/**
 * A collection's cost_keys, learnt as pages arrive: looked up by resource, then service, then a short list of
 * (billing account, currency), without building a joined string per line.
 */
export class CostKeys {
  /** The distinct (service, currency) pairs, by CostKey.group. */
  readonly groups: { service: string; currency: string }[] = [];
  private readonly groupIds = new Map<string, number>();
  private readonly byResource = new Map<string, Map<string, { billingAccount: string; currency: string; key: CostKey }[]>>();

  find(l: CostLine): CostKey | undefined {
    const candidates = this.byResource.get(l.resourceId ?? '')?.get(l.service);
    if (!candidates) return undefined;
    for (const c of candidates) if (c.billingAccount === l.billingAccount && c.currency === l.currency) return c.key;
    return undefined;
  }

  learn(billingAccount: string, service: string, resourceId: string, currency: string, id: string): void {
    const pair = `${service}\t${currency}`;
    let group = this.groupIds.get(pair);
    if (group === undefined) {
      group = this.groups.push({ service, currency }) - 1;
      this.groupIds.set(pair, group);
    }
    let services = this.byResource.get(resourceId);
    if (!services) this.byResource.set(resourceId, (services = new Map()));
    let candidates = services.get(service);
    if (!candidates) services.set(service, (candidates = []));
    candidates.push({ billingAccount, currency, key: { id, group } });
  }
}

/** Exact per-(day, group) sums of a collection's lines: what cost_daily holds for the days it fetched. */
export class DailyTotals {
  private readonly days = new Map<string, DecimalSum[]>();
  private lastDay = '';
  private lastSums: DecimalSum[] = [];

  add(day: string, group: number, amount: string): void {
    if (day !== this.lastDay) {
      let sums = this.days.get(day);
      if (!sums) this.days.set(day, (sums = []));
      this.lastDay = day;
      this.lastSums = sums;
    }
    (this.lastSums[group] ??= new DecimalSum()).add(amount);
  }

  *rows(): Generator<{ day: string; group: number; amount: string }> {
    for (const [day, sums] of this.days) {
      for (let group = 0; group < sums.length; group++) {
        const sum = sums[group];
        if (sum) yield { day, group, amount: sum.toString() };
      }
    }
  }
}
