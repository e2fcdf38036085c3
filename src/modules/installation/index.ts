// The installation module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { InstallationKey } from './entity.ts';
export { authenticateInstallationKey, claimsInstallationKey, createInstallationKey, installationKeyIsLive, listInstallationKeys, revokeInstallationKey } from './keys.ts';
