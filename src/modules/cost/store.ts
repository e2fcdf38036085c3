import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CostLine } from '../../clouds/ports.ts';

/** Where a collection's lines go: the credential fixes the account and the provider. */
export interface CostTarget {
  accountId: string;
  credentialId: string;
  provider: string;
}

/**
 * One collection's writes, in one transaction: the credential's rows of the fetched days are deleted first, then every
 * page is COPYed straight into cost_data as it arrives (COPY, not INSERT: a year of a thousand resources is a million
 * lines), and `commit` rebuilds those days' per-day totals. Readers see the days before or after, never between; a
 * collection that fails changes nothing. Lines of days outside the range are not stored. A (day, key) the cloud
 * answers twice in one collection fails it (the unique key says so) rather than being added up or dropped silently.
 */
export class CostWriter {
  private readonly client: PoolClient;
  private readonly target: CostTarget;
  private readonly range: { from: string; to: string };
  /** cost_keys ids by billing account, service, resource and currency (tab-joined), learnt as pages arrive. */
  private readonly keys = new Map<string, string>();

  private constructor(client: PoolClient, target: CostTarget, range: { from: string; to: string }) {
    this.client = client;
    this.target = target;
    this.range = range;
  }

  static async open(pool: Pool, target: CostTarget, range: { from: string; to: string }): Promise<CostWriter> {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('delete from cost_data where credential_id = $1 and usage_date >= $2::date and usage_date < $3::date', [target.credentialId, range.from, range.to]);
    } catch (err) {
      await client.query('rollback').catch(() => {});
      client.release();
      throw err;
    }
    return new CostWriter(client, target, range);
  }

  /** Stores one page; answers how many of its lines were in the range. */
  async write(lines: CostLine[]): Promise<number> {
    const { from, to } = this.range;
    const kept: CostLine[] = [];
    const keys: string[] = [];
    const missing = new Set<string>();
    for (const l of lines) {
      if (l.date < from || l.date >= to) continue;
      const key = `${l.billingAccount}\t${l.service}\t${l.resourceId ?? ''}\t${l.currency}`;
      kept.push(l);
      keys.push(key);
      if (!this.keys.has(key)) missing.add(key);
    }
    if (kept.length === 0) return 0;
    await this.learnKeys([...missing]);
    const prefix = `${this.target.credentialId}\t`;
    let text = '';
    for (let i = 0; i < kept.length; i++) text += `${prefix}${field(kept[i]!.date)}\t${this.keys.get(keys[i]!)}\t${field(kept[i]!.amount)}\n`;
    await pipeline(Readable.from([Buffer.from(text)]), this.client.query(copyFrom('copy cost_data (credential_id, usage_date, key_id, amount) from stdin')));
    return kept.length;
  }

  /** Rebuilds the range's per-day totals and commits. */
  async commit(): Promise<void> {
    const { credentialId, accountId, provider } = this.target;
    const q = (sql: string, params: unknown[] = []) => this.client.query(sql, params);
    try {
      await q('delete from cost_daily where credential_id = $1 and usage_date >= $2::date and usage_date < $3::date', [credentialId, this.range.from, this.range.to]);
      // The planner has no statistics for the rows just copied (it guesses a handful) and would sort a million of them
      // to group; hashing them is about twice as fast.
      await q('set local enable_sort = off');
      await q(`insert into cost_daily (account_id, credential_id, provider, usage_date, billing_period, service, currency, amount)
               select $2, $1::uuid, $3, d.usage_date, to_char(d.usage_date, 'YYYY-MM'), k.service, k.currency, sum(d.amount)
                 from cost_data d join cost_keys k on k.id = d.key_id
                where d.credential_id = $1::uuid and d.usage_date >= $4::date and d.usage_date < $5::date
                group by d.usage_date, k.service, k.currency`, [credentialId, accountId, provider, this.range.from, this.range.to]);
      await q('commit');
    } catch (err) {
      await q('rollback').catch(() => {});
      throw err;
    } finally {
      this.client.release();
    }
  }

  async abort(): Promise<void> {
    try {
      await this.client.query('rollback');
    } finally {
      this.client.release();
    }
  }

  private async learnKeys(missing: string[]): Promise<void> {
    if (missing.length === 0) return;
    const cols = [0, 1, 2, 3].map((i) => missing.map((k) => k.split('\t')[i]!));
    const { rows } = await this.client.query<{ id: string; billing_account: string; service: string; resource_id: string; currency: string }>(
      `with wanted as (select * from unnest($2::text[], $3::text[], $4::text[], $5::text[]) as w(billing_account, service, resource_id, currency)),
            added as (insert into cost_keys (credential_id, billing_account, service, resource_id, currency)
                      select $1, billing_account, service, resource_id, currency from wanted
                      on conflict do nothing returning id, billing_account, service, resource_id, currency)
       select * from added
       union all
       select k.id, k.billing_account, k.service, k.resource_id, k.currency from cost_keys k join wanted w using (billing_account, service, resource_id, currency)
        where k.credential_id = $1`,
      [this.target.credentialId, ...cols],
    );
    for (const r of rows) this.keys.set(`${r.billing_account}\t${r.service}\t${r.resource_id}\t${r.currency}`, String(r.id));
  }
}

/** COPY's text format: backslash, tab, newline and carriage return escaped. */
function field(value: string): string {
  return /[\\\t\n\r]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : value;
}
