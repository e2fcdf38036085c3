import { z } from 'zod';
import type { ProviderDescriptor } from '../descriptor.ts';
import { cidr, name, networkRef, secretString as str } from '../fields.ts';

const secret = z.strictObject({ tenantId: str, clientId: str, clientSecret: str, subscriptionId: str });
export type AzureSecret = z.infer<typeof secret>;

export const azure: ProviderDescriptor = {
  id: 'azure',
  secret: () => secret,
  kinds: {
    vm: {
      spec: z.strictObject({
        size: name,
        adminUsername: name,
        sshPublicKey: z.string().min(1).max(16 * 1024),
        image: z.strictObject({ publisher: name, offer: name, sku: name, version: name }),
        osDiskType: name.optional(),
        ...networkRef,
      }),
      drift: { spec: ['size'], observed: ['vmSize'] },
    },
    storage: { spec: z.strictObject({ accountName: z.string().regex(/^[a-z0-9]{3,24}$/).optional(), tier: z.enum(['Standard', 'Premium']).optional(), replication: name.optional() }) },
    network: { spec: z.strictObject({ addressSpace: z.array(cidr).min(1).max(16), subnets: z.array(z.strictObject({ name, addressPrefix: cidr })).min(1).max(16) }) },
  },
  terraformEnv: (raw) => {
    const s = raw as AzureSecret;
    return { env: { ARM_TENANT_ID: s.tenantId, ARM_CLIENT_ID: s.clientId, ARM_CLIENT_SECRET: s.clientSecret, ARM_SUBSCRIPTION_ID: s.subscriptionId }, stack: {} };
  },
  open: async (input, deps) => (await import('./index.ts')).openAzure(input, deps.adapter),
};
