import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CostLine } from '../../clouds/ports.ts';
import { UnprocessableError } from '../../shared/errors.ts';
import { CostKeys, DailyTotals, type CostKey } from './totals.ts';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const TAB = 9;
const NEWLINE = 10;
const EMPTY = Buffer.alloc(0);

/** Writes an ASCII string and one byte after it at `at`; answers the offset after them. */
function ascii(into: Buffer, at: number, s: string, after: number): number {
  for (let i = 0; i < s.length; i++) into[at + i] = s.charCodeAt(i);
  into[at + s.length] = after;
  return at + s.length + 1;
}

/** A page of lines in the range: COPY text once every key is known, the lines themselves until then. */
interface Page {
  count: number;
  text: Buffer;
  waiting: CostLine[];
  found: (CostKey | undefined)[];
  missing: CostLine[];
}

/** Where a collection's lines go: the credential fixes the account and the provider. */
export interface CostTarget {
  accountId: string;
  credentialId: string;
  provider: string;
}

/**
 * One collection's writes, in one transaction: the credential's rows of the fetched days are deleted first, then every
 * page is COPYed straight into cost_data as it arrives (COPY, not INSERT: a year of a thousand resources is a million
 * lines) while its lines are summed per (day, service, currency), exactly (src/shared/decimal.ts), and `commit` replaces
 * those days' per-day totals with the sums. Readers see the days before or after, never between; a
 * collection that fails changes nothing. Lines of days outside the range are not stored. A (day, key) the cloud
 * answers twice in one collection fails it (the unique key says so) rather than being added up or dropped silently.
 */
export class CostWriter {
  private readonly client: PoolClient;
  private readonly target: CostTarget;
  private readonly range: { from: string; to: string };
  private readonly keys = new CostKeys();
  private readonly totals = new DailyTotals();
  /** Every row's first field: the credential id and a tab. */
  private readonly prefix: Buffer;
  /** The pages before the next one, stored in order on the one connection. */
  private sending: Promise<unknown> = Promise.resolve();

  private constructor(client: PoolClient, target: CostTarget, range: { from: string; to: string }) {
    this.client = client;
    this.target = target;
    this.range = range;
    this.prefix = Buffer.from(`${target.credentialId}\t`, 'latin1');
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

  /**
   * Takes one page and stores it after the pages before it; answers how many of its lines were in the range. The
   * lines become COPY text at once when their keys are known, so a page waiting for the database holds one string,
   * not ten thousand objects.
   */
  write(lines: CostLine[]): Promise<number> {
    const page = this.prepare(lines);
    const stored = this.sending.then(() => this.send(page));
    // A failed page fails the pages after it (their promises carry its error); abort() waits for the chain to settle.
    this.sending = stored;
    return stored;
  }

  private prepare(lines: CostLine[]): Page {
    const { from, to } = this.range;
    const page: Page = { count: 0, text: EMPTY, waiting: [], found: [], missing: [] };
    for (const l of lines) {
      if (l.date < from || l.date >= to) continue;
      if (!DAY.test(l.date)) throw new UnprocessableError(`The cloud answered a cost line for '${l.date.slice(0, 20)}', not a day (YYYY-MM-DD)`);
      const key = this.keys.find(l);
      page.count++;
      page.waiting.push(l);
      page.found.push(key);
      if (!key) page.missing.push(l);
    }
    if (page.missing.length === 0) this.toText(page);
    return page;
  }

  private async send(page: Page): Promise<number> {
    if (page.count === 0) return 0;
    if (page.missing.length > 0) {
      await this.learnKeys(page.missing);
      this.toText(page);
    }
    await pipeline(Readable.from([page.text]), this.client.query(copyFrom('copy cost_data (credential_id, usage_date, key_id, amount) from stdin')));
    return page.count;
  }

  /**
   * The page's lines as COPY text rows, added to the per-day totals; every key is known. The rows are written byte by
   * byte into one buffer rather than joined as strings (tens of thousands of short-lived strings a page otherwise):
   * every field is ASCII by then (the credential's uuid, a checked day, a key id, an amount DecimalSum accepted).
   */
  private toText(page: Page): void {
    let size = 0;
    for (let i = 0; i < page.waiting.length; i++) {
      const l = page.waiting[i]!;
      const key = (page.found[i] ??= this.keys.find(l)!);
      this.totals.add(l.date, key.group, l.amount);
      size += this.prefix.length + l.date.length + key.id.length + l.amount.length + 3;
    }
    const text = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < page.waiting.length; i++) {
      const l = page.waiting[i]!;
      text.set(this.prefix, at);
      at = ascii(text, ascii(text, ascii(text, at + this.prefix.length, l.date, TAB), page.found[i]!.id, TAB), l.amount, NEWLINE);
    }
    page.text = text;
    page.waiting = [];
    page.found = [];
    page.missing = [];
  }

  /** Replaces the range's per-day totals with the sums of the lines written, and commits. */
  async commit(): Promise<void> {
    const { credentialId, accountId, provider } = this.target;
    const q = (sql: string, params: unknown[] = []) => this.client.query(sql, params);
    try {
      await q('delete from cost_daily where credential_id = $1 and usage_date >= $2::date and usage_date < $3::date', [credentialId, this.range.from, this.range.to]);
      const days: string[] = [];
      const services: string[] = [];
      const currencies: string[] = [];
      const amounts: string[] = [];
      for (const { day, group, amount } of this.totals.rows()) {
        days.push(day);
        services.push(this.keys.groups[group]!.service);
        currencies.push(this.keys.groups[group]!.currency);
        amounts.push(amount);
      }
      await q(`insert into cost_daily (account_id, credential_id, provider, usage_date, billing_period, service, currency, amount)
               select $2, $1::uuid, $3, t.day, to_char(t.day, 'YYYY-MM'), t.service, t.currency, t.amount
                 from unnest($4::date[], $5::text[], $6::text[], $7::numeric[]) as t(day, service, currency, amount)`,
        [credentialId, accountId, provider, days, services, currencies, amounts]);
      await q('commit');
    } catch (err) {
      await q('rollback').catch(() => {});
      throw err;
    } finally {
      this.client.release();
    }
  }

  async abort(): Promise<void> {
    // A page still being written would otherwise run after the rollback, outside any transaction, and commit.
    await this.sending.catch(() => {});
    try {
      await this.client.query('rollback');
    } finally {
      this.client.release();
    }
  }

  private async learnKeys(missing: CostLine[]): Promise<void> {
    const cols: string[][] = [[], [], [], []];
    for (const l of missing) {
      cols[0]!.push(l.billingAccount);
      cols[1]!.push(l.service);
      cols[2]!.push(l.resourceId ?? '');
      cols[3]!.push(l.currency);
    }
    const { rows } = await this.client.query<{ id: string; billing_account: string; service: string; resource_id: string; currency: string }>(
      `with wanted as (select distinct * from unnest($2::text[], $3::text[], $4::text[], $5::text[]) as w(billing_account, service, resource_id, currency)),
            added as (insert into cost_keys (credential_id, billing_account, service, resource_id, currency)
                      select $1, billing_account, service, resource_id, currency from wanted
                      on conflict do nothing returning id, billing_account, service, resource_id, currency)
       select * from added
       union all
       select k.id, k.billing_account, k.service, k.resource_id, k.currency from cost_keys k join wanted w using (billing_account, service, resource_id, currency)
        where k.credential_id = $1`,
      [this.target.credentialId, ...cols],
    );
    for (const r of rows) this.keys.learn(r.billing_account, r.service, r.resource_id, r.currency, String(r.id));
  }
}
