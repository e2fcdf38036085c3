// The state module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { StateLock, StateVersion } from './entities.ts';
export { StaleLockError, StateLockedError, acquireLock, currentLock, forceUnlock, releaseLock, renewLease } from './locks.ts';
export { assertStateProviders } from './providers.ts';
export { StateStore } from './versions.ts';
