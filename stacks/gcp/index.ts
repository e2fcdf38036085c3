import { PINNED_PROVIDERS, type ProviderStacks } from '../providers.ts';

/** The gcp stacks, one per kind, each loaded on demand; and the pinned terraform providers they use. */
export const gcpStacks: ProviderStacks = {
  providers: [PINNED_PROVIDERS.google],
  kinds: {
    vm: async () => (await import('./vm.ts')).GcpVmStack,
    storage: async () => (await import('./storage.ts')).GcpStorageStack,
    network: async () => (await import('./network.ts')).GcpNetworkStack,
  },
};
