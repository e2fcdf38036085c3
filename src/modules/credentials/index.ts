// The credentials module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { Credential, PROVIDERS, type Provider } from './entity.ts';
export { credentialRoutes } from './routes.ts';
export { type CredentialSecret } from './secrets.ts';
export { CredentialService, WITH_DELETED, credentialOf, credentialsInScope, historyOf, usableCredential, type CredentialUsage, type PurgedHistory } from './service.ts';
