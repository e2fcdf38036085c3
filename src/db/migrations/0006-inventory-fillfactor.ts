import { Migration } from '@mikro-orm/migrations';

/**
 * Every sync rewrites each row it sees (last_seen_at, last_run_id). With pages 70% full, Postgres can put the new
 * version beside the old one (a HOT update: no index touched) when no indexed value changed, which is nearly every
 * row of a resync. Applies to pages written from now on; `vacuum full inventory_items` rewrites older ones.
 */
export class Migration0006InventoryFillfactor extends Migration {
  override up(): void {
    this.addSql('alter table inventory_items set (fillfactor = 70);');
  }
}
