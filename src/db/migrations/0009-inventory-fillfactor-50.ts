import { Migration } from '@mikro-orm/migrations';

/**
 * Pages half full: a resync rewrites every row of a page it lists (last_seen_at, last_run_id), and 70% full pages
 * had room beside the old versions for only about 40% of them, so the rest became non-HOT updates that touch all six
 * indexes. At 50% every new version fits on its page (measured on 100,000 rows: 100% HOT, WAL per 1,000-row page
 * 790 KB -> 160 KB, the page's upsert 56-157 ms -> 24 ms), for a heap about 1.4x larger. Applies to pages written
 * from now on; `vacuum full inventory_items` rewrites older ones.
 */
export class Migration0009InventoryFillfactor50 extends Migration {
  override up(): void {
    this.addSql('alter table inventory_items set (fillfactor = 50);');
  }
}
