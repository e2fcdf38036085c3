import { PINNED_PROVIDERS, type ProviderStacks } from '../providers.ts';

/** The aws stacks, one per kind, each loaded on demand; and the pinned terraform providers they use. */
export const awsStacks: ProviderStacks = {
  providers: [PINNED_PROVIDERS.aws],
  kinds: {
    vm: async () => (await import('./vm.ts')).AwsVmStack,
    storage: async () => (await import('./storage.ts')).AwsStorageStack,
    network: async () => (await import('./network.ts')).AwsNetworkStack,
  },
};
