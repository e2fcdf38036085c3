import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 20: providers and resource kinds are validated by the provider registry (src/clouds/registry.ts) and the API
 * schemas derived from it, not by the database, so adding a provider or a kind needs no migration. Drops the check
 * constraints that listed them on credentials, resources and inventory_items. Safe on existing data: it only widens.
 */
export class Migration0014ProviderRegistry extends Migration {
  override up(): void {
    this.addSql(`
alter table credentials drop constraint credentials_provider_check;
alter table resources drop constraint resources_provider_check, drop constraint resources_type_check;
alter table inventory_items drop constraint inventory_items_provider_check, drop constraint inventory_items_type_check;
`);
  }
}
