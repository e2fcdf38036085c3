import { Migration0001Foundation } from './0001-foundation.ts';
import { Migration0002Provisioning } from './0002-provisioning.ts';
import { Migration0003Inventory } from './0003-inventory.ts';
import { Migration0004Health } from './0004-health.ts';
import { Migration0005Schedules } from './0005-schedules.ts';
import { Migration0006InventoryFillfactor } from './0006-inventory-fillfactor.ts';
import { Migration0007Cost } from './0007-cost.ts';
import { Migration0008DashboardSessions } from './0008-dashboard-sessions.ts';
import { Migration0009InventoryFillfactor50 } from './0009-inventory-fillfactor-50.ts';
import { Migration0010AwsExternalIds } from './0010-aws-external-ids.ts';
import { Migration0011InstallationKeys } from './0011-installation-keys.ts';
import { Migration0012AccountQuotas } from './0012-account-quotas.ts';
import { Migration0013ForgetAndSoftDelete } from './0013-forget-and-soft-delete.ts';
import { Migration0014ProviderRegistry } from './0014-provider-registry.ts';

/** Every committed migration, in order. Listed explicitly so no file-system discovery runs at start-up. */
export const migrations = [
  { name: '0001-foundation', class: Migration0001Foundation },
  { name: '0002-provisioning', class: Migration0002Provisioning },
  { name: '0003-inventory', class: Migration0003Inventory },
  { name: '0004-health', class: Migration0004Health },
  { name: '0005-schedules', class: Migration0005Schedules },
  { name: '0006-inventory-fillfactor', class: Migration0006InventoryFillfactor },
  { name: '0007-cost', class: Migration0007Cost },
  { name: '0008-dashboard-sessions', class: Migration0008DashboardSessions },
  { name: '0009-inventory-fillfactor-50', class: Migration0009InventoryFillfactor50 },
  { name: '0010-aws-external-ids', class: Migration0010AwsExternalIds },
  { name: '0011-installation-keys', class: Migration0011InstallationKeys },
  { name: '0012-account-quotas', class: Migration0012AccountQuotas },
  { name: '0013-forget-and-soft-delete', class: Migration0013ForgetAndSoftDelete },
  { name: '0014-provider-registry', class: Migration0014ProviderRegistry },
];
