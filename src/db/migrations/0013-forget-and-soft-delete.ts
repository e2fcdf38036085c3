import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 19, items 2 and 3: a way out for a resource that can never apply, and a credential deletion that keeps history.
 * - Resources may be `forgotten` (DELETE /v1/resources/:id?forget=true): Skyloft stops managing them without touching
 *   the cloud. Like a destroyed one, a forgotten resource frees its name and no longer keeps its credential alive.
 * - Credentials are soft-deleted: `deleted_at` set and the secret wiped, so inventory, cost and health history stay
 *   (the cascades and the cost_data trigger now run only on a purge, DELETE ?purge=true). A deleted credential frees
 *   its name. A live credential always has a secret.
 * Safe on existing data: new columns are null for every existing row (nothing is forgotten or deleted), the widened
 * check and the rebuilt partial indexes accept every existing row, and all of it runs in the migrations' transaction.
 */
export class Migration0013ForgetAndSoftDelete extends Migration {
  override up(): void {
    this.addSql(`
alter table resources drop constraint resources_status_check;
alter table resources add constraint resources_status_check
  check (status in ('pending', 'provisioning', 'active', 'updating', 'failed', 'destroying', 'destroyed', 'forgotten'));
alter table resources add column forgotten_at timestamptz;
alter table resources add constraint resources_forgotten_at_check check ((status = 'forgotten') = (forgotten_at is not null));
create unique index resources_account_name_managed_uq on resources (account_id, name) where status not in ('destroyed', 'forgotten');
drop index resources_account_name_live_uq;
create index resources_credential_managed_idx on resources (credential_id) where status not in ('destroyed', 'forgotten');
drop index resources_credential_live_idx;

alter table credentials add column deleted_at timestamptz;
alter table credentials alter column secret_ciphertext drop not null, alter column secret_key_id drop not null;
alter table credentials add constraint credentials_live_secret_check
  check (deleted_at is not null or (secret_ciphertext is not null and secret_key_id is not null));
create unique index credentials_account_name_live_uq on credentials (account_id, name) where deleted_at is null;
drop index credentials_account_name_uq;
`);
  }
}
