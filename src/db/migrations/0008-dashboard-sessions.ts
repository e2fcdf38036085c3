import { Migration } from '@mikro-orm/migrations';

/**
 * Browser sessions of the /admin/queues dashboard. Only a SHA-256 hash of the cookie's token is stored; a session
 * dies with its API key or user (deleting either cascades, and every request re-checks that both are still valid).
 */
export class Migration0008DashboardSessions extends Migration {
  override up(): void {
    this.addSql(`
create table dashboard_sessions (
  id uuid primary key,
  token_hash text not null check (token_hash ~ '^[0-9a-f]{64}$'),
  account_id text not null references accounts(id) on delete cascade deferrable initially deferred,
  user_id uuid not null references users(id) on delete cascade deferrable initially deferred,
  api_key_id uuid not null references api_keys(id) on delete cascade deferrable initially deferred,
  role text not null check (role in ('admin', 'operator', 'viewer')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null,
  last_seen_at timestamptz not null default now(),
  check (expires_at > created_at)
);
create unique index dashboard_sessions_token_uq on dashboard_sessions (token_hash);
create index dashboard_sessions_expires_idx on dashboard_sessions (expires_at);
create index dashboard_sessions_api_key_idx on dashboard_sessions (api_key_id);
`);
  }
}
