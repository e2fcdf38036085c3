import { z } from 'zod';
import type { KindDescriptor, ProviderDescriptor } from '../descriptor.ts';
import { networkRef } from '../fields.ts';
import { DRIFT_KEYS } from './world.ts';

/** The sandbox's simulated provisioning time (stacks/sandbox/common.ts). */
const slowCreate = { provisionSeconds: z.number().int().min(0).max(600).optional() };
/** The sandbox shows a size field as it was applied (world.ts), under the spec's own key. */
const drift = { spec: DRIFT_KEYS, observed: DRIFT_KEYS };
const kind = (spec: KindDescriptor['spec']): KindDescriptor => ({ spec, drift });

export const sandbox: ProviderDescriptor = {
  id: 'sandbox',
  secret: () => z.strictObject({}),
  kinds: {
    vm: kind(z.looseObject({ ...networkRef, ...slowCreate })),
    storage: kind(z.looseObject({ ...slowCreate })),
    network: kind(z.looseObject({ ...slowCreate })),
  },
  maxSpecBytes: 64 * 1024,
  terraformEnv: () => ({ env: {}, stack: {} }),
  open: async (input, deps) => (await import('./index.ts')).openSandbox(input, deps.sandbox),
};
