import { Migration } from '@mikro-orm/migrations';

/**
 * Managed resources, their operations, encrypted Terraform state versions, state locks and idempotency keys.
 * A credential is referenced with SET NULL (the service refuses to delete one with live resources; destroyed ones
 * keep their history). An operation row is the source of truth for accepted work: the queue only carries its id.
 */
export class Migration0002Provisioning extends Migration {
  override up(): void {
    this.addSql(`
create table resources (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  name text not null check (length(name) between 1 and 100),
  provider text not null check (provider in ('aws', 'azure', 'gcp', 'sandbox')),
  type text not null check (type in ('vm', 'storage', 'network')),
  region text not null,
  credential_id uuid references credentials(id) on delete set null deferrable initially deferred,
  network_resource_id uuid references resources(id) on delete restrict deferrable initially deferred,
  spec jsonb not null,
  status text not null check (status in ('pending', 'provisioning', 'active', 'updating', 'failed', 'destroying', 'destroyed')),
  outputs jsonb not null default '{}',
  drift text check (drift in ('none', 'drifted', 'missing')),
  destroyed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred,
  updated_by uuid references users(id) on delete set null deferrable initially deferred
);
-- Names are unique among live resources; a destroyed resource's name can be reused.
create unique index resources_account_name_live_uq on resources (account_id, name) where status <> 'destroyed';
create index resources_account_idx on resources (account_id, id desc);
create index resources_credential_live_idx on resources (credential_id) where status <> 'destroyed';
create index resources_network_idx on resources (network_resource_id) where network_resource_id is not null;

create table operations (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  resource_id uuid not null references resources(id) on delete cascade deferrable initially deferred,
  kind text not null check (kind in ('apply', 'update', 'destroy')),
  status text not null check (status in ('queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled')),
  step text not null default 'plan' check (step in ('plan', 'approval', 'apply', 'done')),
  spec jsonb not null,
  auto_approve boolean not null default true,
  approved_at timestamptz,
  approved_by uuid references users(id) on delete set null deferrable initially deferred,
  cancel_requested_at timestamptz,
  attempts integer not null default 0 check (attempts >= 0),
  error text,
  plan_summary jsonb,
  log text not null default '',
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred,
  updated_by uuid references users(id) on delete set null deferrable initially deferred,
  check ((status in ('succeeded', 'failed', 'canceled')) = (finished_at is not null))
);
-- Never two unfinished operations of one resource at once.
create unique index operations_one_active_per_resource_uq on operations (resource_id)
  where status in ('queued', 'running', 'awaiting_approval');
create index operations_account_idx on operations (account_id, id desc);
create index operations_resource_idx on operations (resource_id, id desc);
-- The reconciler looks for queued operations that have no job.
create index operations_queued_idx on operations (id) where status = 'queued';

create table state_versions (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  resource_id uuid not null references resources(id) on delete cascade deferrable initially deferred,
  version integer not null check (version > 0),
  serial bigint not null check (serial >= 0),
  lineage text not null,
  sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
  size integer not null check (size >= 0),
  operation_id uuid references operations(id) on delete set null deferrable initially deferred,
  ciphertext bytea not null,
  key_id text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred,
  unique (resource_id, version)
);
create index state_versions_key_idx on state_versions (key_id);

create table state_locks (
  resource_id uuid primary key references resources(id) on delete cascade deferrable initially deferred,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  lock_id text not null,
  holder text not null check (holder in ('worker', 'user')),
  info jsonb not null,
  operation_id uuid references operations(id) on delete set null deferrable initially deferred,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred
);

create table idempotency_keys (
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  key text not null check (length(key) between 1 and 255),
  request_hash text not null,
  resource_id uuid not null references resources(id) on delete cascade deferrable initially deferred,
  operation_id uuid not null references operations(id) on delete cascade deferrable initially deferred,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (account_id, key)
);
create index idempotency_keys_expiry_idx on idempotency_keys (expires_at);
`);
  }
}
