import { Migration } from '@mikro-orm/migrations';

/** Each credential's API health over time: one row per check, newest first, pruned to a retention limit. */
export class Migration0004Health extends Migration {
  override up(): void {
    this.addSql(`
create table health_checks (
  id uuid primary key,
  account_id text not null references accounts(id) on delete restrict deferrable initially deferred,
  credential_id uuid not null references credentials(id) on delete cascade deferrable initially deferred,
  status text not null check (status in ('healthy', 'degraded', 'error')),
  response_time_ms integer check (response_time_ms >= 0),
  throttled boolean not null default false,
  error_message text,
  checked_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index health_checks_credential_idx on health_checks (credential_id, id desc);
create index health_checks_account_idx on health_checks (account_id, credential_id, id desc);
`);
  }
}
