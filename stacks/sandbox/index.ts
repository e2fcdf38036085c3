import type { ProviderStacks } from '../providers.ts';

/** The sandbox stacks, one per kind, each loaded on demand; and the pinned terraform providers they use (terraform_data only: no provider to install). */
export const sandboxStacks: ProviderStacks = {
  providers: [],
  kinds: {
    vm: async () => (await import('./vm.ts')).SandboxVmStack,
    storage: async () => (await import('./storage.ts')).SandboxStorageStack,
    network: async () => (await import('./network.ts')).SandboxNetworkStack,
  },
};
