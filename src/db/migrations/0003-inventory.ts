import { Migration } from '@mikro-orm/migrations';

/**
 * The inventory: every cloud object a credential can see, kept with first/last seen times and the sync run that
 * last saw it. Rows are never hard-deleted by a sync: an object a completed scope did not see gets deleted_at
 * (a tombstone), and one that reappears is revived. Deleting a credential removes its inventory (cascade).
 */
export class Migration0003Inventory extends Migration {
  override up(): void {
    this.addSql(`
create table sync_runs (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  status text not null check (status in ('running', 'succeeded', 'partial', 'failed')),
  scopes_total integer not null default 0,
  scopes_done integer not null default 0,
  added integer not null default 0,
  updated integer not null default 0,
  deleted integer not null default 0,
  errors jsonb not null default '[]',
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred
);
create index sync_runs_account_idx on sync_runs (account_id, id desc);
-- "join the run in progress": at most one running run per credential.
create unique index sync_runs_one_running_uq on sync_runs (credential_id) where status = 'running';

create table sync_scopes (
  run_id uuid not null references sync_runs(id) on delete cascade deferrable initially deferred,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  region text not null,
  kind text not null,
  status text not null check (status in ('pending', 'succeeded', 'failed')),
  items integer not null default 0,
  error text,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (run_id, region, kind)
);
-- Freshness: the last complete listing of every (credential, region).
create index sync_scopes_fresh_idx on sync_scopes (credential_id, region, finished_at desc) where status = 'succeeded';

create table inventory_items (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  provider text not null check (provider in ('aws', 'azure', 'gcp', 'sandbox')),
  type text not null check (type in ('vm', 'storage', 'network')),
  kind text not null,
  region text not null,
  external_id text not null,
  name text,
  status text not null,
  metadata jsonb not null default '{}',
  tags jsonb not null default '{}',
  content_hash text not null,
  managed_resource_id uuid,
  first_seen_at timestamptz not null,
  last_seen_at timestamptz not null,
  last_run_id uuid not null,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index inventory_items_identity_uq on inventory_items (credential_id, region, kind, external_id);
create index inventory_items_account_idx on inventory_items (account_id, id desc) where deleted_at is null;
create index inventory_items_account_all_idx on inventory_items (account_id, id desc);
create index inventory_items_filter_idx on inventory_items (account_id, provider, type, status, id desc) where deleted_at is null;
create index inventory_items_managed_idx on inventory_items (managed_resource_id) where managed_resource_id is not null;
`);
  }
}
