import { Migration } from '@mikro-orm/migrations';

/**
 * Installation keys: the identity of the people who run the installation (not an account's members). Only a SHA-256
 * hash of each key and a display prefix are stored; a key is revoked, never deleted, so audit rows keep naming it.
 *
 * A browser session is now made from an account's API key or from an installation key: exactly one of the two, and
 * an account session keeps its account, user and role. Audit rows of installation-wide actions (a queue paused, a key
 * made) belong to no account: account_id becomes nullable, and such rows are read by no account route.
 */
export class Migration0011InstallationKeys extends Migration {
  override up(): void {
    this.addSql(`
create table installation_keys (
  id uuid primary key,
  name text not null check (length(name) between 1 and 100),
  key_hash text not null check (key_hash ~ '^[0-9a-f]{64}$'),
  prefix text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create unique index installation_keys_hash_uq on installation_keys (key_hash);

alter table dashboard_sessions
  alter column account_id drop not null,
  alter column user_id drop not null,
  alter column api_key_id drop not null,
  alter column role drop not null,
  add column installation_key_id uuid references installation_keys(id) on delete cascade deferrable initially deferred,
  add constraint dashboard_sessions_one_principal check (
    (installation_key_id is null and account_id is not null and user_id is not null and api_key_id is not null and role is not null)
    or (installation_key_id is not null and account_id is null and user_id is null and api_key_id is null and role is null)
  );
create index dashboard_sessions_installation_key_idx on dashboard_sessions (installation_key_id);

alter table audit_logs
  alter column account_id drop not null,
  add column actor_installation_key_id uuid references installation_keys(id) on delete restrict deferrable initially deferred,
  drop constraint audit_logs_actor_kind_check,
  add constraint audit_logs_actor_kind_check check (actor_kind in ('user', 'cli', 'system', 'installation'));
`);
  }
}
