import { Migration } from '@mikro-orm/migrations';

/** Per-account schedule intervals; an account without a row uses the defaults. */
export class Migration0005Schedules extends Migration {
  override up(): void {
    this.addSql(`
create table account_schedules (
  account_id text primary key references accounts(id) on delete cascade deferrable initially deferred,
  inventory_minutes integer not null default 15 check (inventory_minutes between 1 and 10080),
  health_minutes integer not null default 5 check (health_minutes between 1 and 10080),
  cost_cron text not null default '0 3 * * *',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  updated_by uuid references users(id) on delete set null deferrable initially deferred
);
`);
  }
}
