import { Migration } from '@mikro-orm/migrations';

/**
 * Actual cost. `cost_data` holds one row per (credential, usage day, billing account, service, resource, currency),
 * the last four through `cost_keys`; the credential fixes the account and the provider. A collection replaces the
 * days it fetched in one transaction, so a restated day never adds up twice. `cost_daily` is the same data without
 * resources, with the billing period (YYYY-MM), rebuilt with them: the provider/service/day questions read it.
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

-- What a cost line is about: (credential, billing account, service, resource, currency). resource_id '' is cost not
-- attributable to one resource, so it still collides in the unique key.
create table cost_keys (
  id bigint generated always as identity primary key,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  billing_account text not null,
  service text not null,
  resource_id text not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  unique (credential_id, billing_account, service, resource_id, currency)
);
create index cost_keys_resource_idx on cost_keys (credential_id, resource_id) where resource_id <> '';

-- One row per (credential, usage day, key): narrow, so a year of a thousand resources (a million rows) loads in
-- seconds. No foreign keys (a per-row check would double the load time): rows go with their credential by trigger.
create table cost_data (
  credential_id uuid not null,
  usage_date date not null,
  key_id bigint not null,
  amount numeric(24, 10) not null,
  primary key (credential_id, usage_date, key_id)
);
create function cost_data_forget_credential() returns trigger language plpgsql as $$
begin
  delete from cost_data where credential_id = old.id;
  return old;
end $$;
create trigger credentials_cost_data_cleanup after delete on credentials for each row execute function cost_data_forget_credential();

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
create index cost_daily_period_idx on cost_daily (account_id, billing_period);

alter table account_schedules alter column cost_cron set default '0 2 * * *';
`);
  }
}
