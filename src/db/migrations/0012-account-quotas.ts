import { Migration } from '@mikro-orm/migrations';

/**
 * Per-account quotas (SKYLOFT_QUOTA_*) count an account's unfinished operations on every create, update and destroy,
 * under the account's row lock: this index keeps that count to the few unfinished rows instead of the account's whole
 * operation history. Credentials and live resources are counted through existing indexes.
 */
export class Migration0012AccountQuotas extends Migration {
  override up(): void {
    this.addSql(`
create index operations_account_active_idx on operations (account_id)
  where status in ('queued', 'running', 'awaiting_approval');
`);
  }
}
