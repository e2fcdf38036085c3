import { Migration } from '@mikro-orm/migrations';

/**
 * Accounts, users, API keys, the credential vault and the append-only audit log.
 * Delete rules: accounts and users are never hard-deleted (users are soft-deleted), so references to them RESTRICT;
 * audit rows reference their actors without cascades because the audit table refuses every UPDATE and DELETE.
 * Foreign keys are checked at commit (deferrable initially deferred): entities hold plain id columns, so the ORM
 * does not order inserts by reference, and every flush runs in one transaction anyway.
 */
export class Migration0001Foundation extends Migration {
  override up(): void {
    this.addSql(`
create table accounts (
  id text primary key check (id ~ '^[a-z2-7]{13}$'),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table users (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  email text not null check (email = lower(email) and length(email) between 3 and 320),
  role text not null check (role in ('admin', 'operator', 'viewer')),
  active boolean not null default true,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred,
  updated_by uuid references users(id) on delete set null deferrable initially deferred,
  check (deleted_at is null or active = false)
);
-- One live user per email in an account; a deleted user's email may be reused.
create unique index users_account_email_live_uq on users (account_id, email) where deleted_at is null;
create index users_account_id_idx on users (account_id, id);

create table api_keys (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
  name text not null check (length(name) between 1 and 100),
  role text not null check (role in ('admin', 'operator', 'viewer')),
  key_hash text not null check (key_hash ~ '^[0-9a-f]{64}$'),
  prefix text not null,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred,
  updated_by uuid references users(id) on delete set null deferrable initially deferred
);
create unique index api_keys_hash_uq on api_keys (key_hash);
-- Key names are unique per user among keys not revoked, so a revoked key's name can be reused.
create unique index api_keys_user_name_live_uq on api_keys (user_id, name) where revoked_at is null;
create index api_keys_user_live_idx on api_keys (user_id, id) where revoked_at is null;
create index api_keys_account_idx on api_keys (account_id, id);

create table credentials (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  name text not null check (length(name) between 1 and 100),
  provider text not null check (provider in ('aws', 'azure', 'gcp', 'sandbox')),
  region text,
  regions jsonb,
  endpoints jsonb not null default '{}',
  options jsonb not null default '{}',
  secret_ciphertext bytea not null,
  secret_key_id text not null,
  secret_updated_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid references users(id) on delete set null deferrable initially deferred,
  updated_by uuid references users(id) on delete set null deferrable initially deferred
);
create unique index credentials_account_name_uq on credentials (account_id, name);
create index credentials_account_idx on credentials (account_id, id);
-- rotate-master-key looks for rows not yet under the newest key.
create index credentials_secret_key_idx on credentials (secret_key_id);

create table audit_logs (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  actor_user_id uuid references users(id) on delete restrict deferrable initially deferred,
  actor_key_id uuid references api_keys(id) on delete restrict deferrable initially deferred,
  actor_kind text not null check (actor_kind in ('user', 'cli', 'system')),
  action text not null,
  entity_type text not null,
  entity_id text,
  before jsonb,
  after jsonb,
  ip text,
  user_agent text,
  request_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index audit_logs_account_idx on audit_logs (account_id, id desc);
create index audit_logs_actor_user_idx on audit_logs (account_id, actor_user_id, id desc);
create index audit_logs_actor_key_idx on audit_logs (account_id, actor_key_id, id desc);
create index audit_logs_action_idx on audit_logs (account_id, action, id desc);
create index audit_logs_entity_idx on audit_logs (account_id, entity_type, entity_id, id desc);

-- The audit log is append-only for everyone, including the application's own role.
create function audit_logs_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_logs is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
end $$;
create trigger audit_logs_no_update_delete before update or delete on audit_logs
  for each row execute function audit_logs_append_only();
create trigger audit_logs_no_truncate before truncate on audit_logs
  for each statement execute function audit_logs_append_only();
`);
  }
}
