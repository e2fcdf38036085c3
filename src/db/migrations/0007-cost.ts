import { Migration } from '@mikro-orm/migrations';

/**
 * Actual cost. `cost_data` holds one row per (credential, usage day, billing account, service, resource, currency);
 * the credential fixes the account and the provider. Cost not attributable to one resource has resource_id '' so it
 * still collides in the unique key (a restated day replaces its row, never adds one). `cost_daily` is the same data
 * without resources, rebuilt for the days a collection touched: the provider/service/day questions read it.
 */
export class Migration0007Cost extends Migration {
  override up(): void {
    this.addSql(`
create table cost_runs (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  trigger text not null check (trigger in ('backfill', 'scheduled', 'manual')),
  status text not null check (status in ('queued', 'running', 'succeeded', 'failed')),
  range_from date not null,
  range_to date not null,
  days_fetched integer not null default 0,
  lines integer not null default 0,
  paid_requests integer not null default 0,
  notices jsonb not null default '[]',
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred,
  check (range_from < range_to)
);
create index cost_runs_account_idx on cost_runs (account_id, id desc);
create index cost_runs_credential_idx on cost_runs (credential_id, id desc);
-- One collection at a time per credential: a run replaces the days it fetched, so two must not interleave.
create unique index cost_runs_one_running_uq on cost_runs (credential_id) where status = 'running';

create table cost_data (
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  provider text not null check (provider in ('aws', 'azure', 'gcp', 'sandbox')),
  usage_date date not null,
  billing_period char(7) not null,
  billing_account text not null,
  service text not null,
  resource_id text not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  amount numeric(24, 10) not null,
  -- The collection attempt that wrote the row: after a complete collection, rows of its days written by an earlier
  -- one are lines the cloud no longer reports (restated away) and are removed.
  collection_id uuid not null,
  updated_at timestamptz not null default now(),
  primary key (credential_id, usage_date, billing_account, service, resource_id, currency)
);
-- Account questions go through the account's credentials and the primary key; one resource's series through this.
create index cost_data_resource_idx on cost_data (credential_id, resource_id, usage_date) where resource_id <> '';

create table cost_daily (
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  provider text not null,
  usage_date date not null,
  billing_period char(7) not null,
  service text not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  amount numeric(24, 10) not null,
  primary key (credential_id, usage_date, service, currency)
);

alter table account_schedules alter column cost_cron set default '0 2 * * *';
`);
  }
}
