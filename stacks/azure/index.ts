import { PINNED_PROVIDERS, type ProviderStacks } from '../providers.ts';

/** The azure stacks, one per kind, each loaded on demand; and the pinned terraform providers they use. */
export const azureStacks: ProviderStacks = {
  providers: [PINNED_PROVIDERS.azurerm],
  kinds: {
    vm: async () => (await import('./vm.ts')).AzureVmStack,
    storage: async () => (await import('./storage.ts')).AzureStorageStack,
    network: async () => (await import('./network.ts')).AzureNetworkStack,
  },
};
