// The retention module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { credentialUsage } from './purge.ts';
export { pruneHistory } from './service.ts';
