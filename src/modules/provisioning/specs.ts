import { z } from 'zod';
import { MAX_LITERAL_NUMBER } from '../../../stacks/literal.ts';
import { ValidationError } from '../../shared/errors.ts';
import type { Provider } from '../credentials/entity.ts';
import type { Resource } from './entities.ts';

/**
 * What each (provider, type) accepts as `spec`, matching the stack configs in stacks/. Unknown fields are refused so
 * a typo never silently becomes a default. A vm may name a managed network by `networkResourceId`.
 */
const SANDBOX_MAX_BYTES = 64 * 1024;
const name = z.string().min(1).max(200);
const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'must be an IPv4 CIDR such as 10.0.0.0/16');
const networkRef = { networkResourceId: z.uuid().optional() };
/** The sandbox's simulated provisioning time (stacks/sandbox/common.ts). */
const slowCreate = { provisionSeconds: z.number().int().min(0).max(600).optional() };

const specs: Record<Provider, Record<Resource['type'], z.ZodType<Record<string, unknown>>>> = {
  sandbox: {
    vm: z.looseObject({ ...networkRef, ...slowCreate }),
    storage: z.looseObject({ ...slowCreate }),
    network: z.looseObject({ ...slowCreate }),
  },
  aws: {
    vm: z.strictObject({
      ami: name,
      instanceType: name,
      ingress: z.array(z.strictObject({ port: z.number().int().min(0).max(65535), protocol: z.enum(['tcp', 'udp']).optional(), cidr: cidr.optional() })).max(50).optional(),
      keyName: name.optional(),
      userData: z.string().max(16 * 1024).optional(),
      rootVolumeGb: z.number().int().min(1).max(16_384).optional(),
      ...networkRef,
    }),
    storage: z.strictObject({ bucketName: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).optional(), kmsKeyId: name.optional(), forceDestroy: z.boolean().optional() }),
    network: z.strictObject({
      cidrBlock: cidr,
      subnets: z.array(z.strictObject({ cidrBlock: cidr, availabilityZone: name.optional(), mapPublicIpOnLaunch: z.boolean().optional() })).min(1).max(16),
    }),
  },
  azure: {
    vm: z.strictObject({
      size: name,
      adminUsername: name,
      sshPublicKey: z.string().min(1).max(16 * 1024),
      image: z.strictObject({ publisher: name, offer: name, sku: name, version: name }),
      osDiskType: name.optional(),
      ...networkRef,
    }),
    storage: z.strictObject({ accountName: z.string().regex(/^[a-z0-9]{3,24}$/).optional(), tier: z.enum(['Standard', 'Premium']).optional(), replication: name.optional() }),
    network: z.strictObject({ addressSpace: z.array(cidr).min(1).max(16), subnets: z.array(z.strictObject({ name, addressPrefix: cidr })).min(1).max(16) }),
  },
  gcp: {
    vm: z.strictObject({ machineType: name, image: name, zone: name.optional(), diskSizeGb: z.number().int().min(1).max(65_536).optional(), ...networkRef }),
    storage: z.strictObject({
      bucketName: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/).optional(),
      location: name.optional(),
      storageClass: z.enum(['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE']).optional(),
      versioning: z.boolean().optional(),
      forceDestroy: z.boolean().optional(),
    }),
    network: z.strictObject({ subnets: z.array(z.strictObject({ name, ipCidrRange: cidr })).min(1).max(16) }),
  },
};

export function validateSpec(provider: Provider, type: Resource['type'], spec: unknown): Record<string, unknown> {
  if (provider === 'sandbox' && Buffer.byteLength(JSON.stringify(spec ?? null)) > SANDBOX_MAX_BYTES) {
    throw new ValidationError('A sandbox spec may hold at most 64 KB', [{ path: 'spec', message: 'over 64 KB' }]);
  }
  const huge = hugeNumberPath(spec, 'spec');
  if (huge) throw new ValidationError(`Numbers in a spec must be within ±${MAX_LITERAL_NUMBER}`, [{ path: huge, message: 'too large' }]);
  const parsed = specs[provider][type].safeParse(spec);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => ({ path: ['spec', ...i.path.map(String)].join('.'), message: i.message }));
  throw new ValidationError(`Invalid ${provider} ${type} spec: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);
}

/** The path of the first number the stacks would refuse (stacks/common.ts literalJson: cdktf's number tokens). */
function hugeNumberPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'number') return Math.abs(value) < MAX_LITERAL_NUMBER ? undefined : path;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = hugeNumberPath(v, `${path}.${k}`);
    if (found) return found;
  }
  return undefined;
}
