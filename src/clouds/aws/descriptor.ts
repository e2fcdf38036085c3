import { z } from 'zod';
import { UnprocessableError } from '../../shared/errors.ts';
import type { ProviderDescriptor } from '../descriptor.ts';
import { cidr, name, networkRef, secretString as str } from '../fields.ts';

const awsStatic = z.strictObject({ accessKeyId: str, secretAccessKey: str, sessionToken: str.optional() });
const awsAssumeRole = z
  .strictObject({ roleArn: str, externalId: str.optional(), accessKeyId: str.optional(), secretAccessKey: str.optional() })
  .refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together (or leave both out to use the host\'s own AWS identity where SKYLOFT_AWS_HOST_IDENTITY allows it)',
    path: ['secretAccessKey'],
  });

export type AwsSecret = z.infer<typeof awsStatic> | z.infer<typeof awsAssumeRole>;

/** An AWS role to be assumed with the worker host's own identity: no keys of the tenant's. */
export function isKeylessRole(secret: unknown): boolean {
  const s = secret as Partial<Record<string, unknown>>;
  return 'roleArn' in s && !s.accessKeyId;
}

export const aws: ProviderDescriptor = {
  id: 'aws',
  secret: (raw) => ('roleArn' in raw ? awsAssumeRole : awsStatic),
  /**
   * A role without keys is assumed with the host's identity: refused unless SKYLOFT_AWS_HOST_IDENTITY, and then the
   * ExternalId is Skyloft's per account (GET /v1/credentials/aws-external-id), never the caller's, or one tenant could
   * have the host assume another tenant's role by naming it with that tenant's ExternalId.
   */
  secretProblems: (secret, policy) => {
    if (!isKeylessRole(secret)) return [];
    if (!policy.awsHostIdentity) {
      return [{ path: 'secret.accessKeyId', message: 'required with roleArn: this installation does not assume roles with its own AWS identity (SKYLOFT_AWS_HOST_IDENTITY)' }];
    }
    if (secret.externalId !== undefined) {
      return [{ path: 'secret.externalId', message: 'Skyloft chooses the ExternalId of a role it assumes with its own identity (GET /v1/credentials/aws-external-id): leave it out' }];
    }
    return [];
  },
  kinds: {
    vm: {
      spec: z.strictObject({
        ami: name,
        instanceType: name,
        ingress: z.array(z.strictObject({ port: z.number().int().min(0).max(65535), protocol: z.enum(['tcp', 'udp']).optional(), cidr: cidr.optional() })).max(50).optional(),
        keyName: name.optional(),
        userData: z.string().max(16 * 1024).optional(),
        rootVolumeGb: z.number().int().min(1).max(16_384).optional(),
        ...networkRef,
      }),
      drift: { spec: ['instanceType'], observed: ['instanceType'] },
    },
    storage: { spec: z.strictObject({ bucketName: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).optional(), kmsKeyId: name.optional(), forceDestroy: z.boolean().optional() }) },
    network: {
      spec: z.strictObject({
        cidrBlock: cidr,
        subnets: z.array(z.strictObject({ cidrBlock: cidr, availabilityZone: name.optional(), mapPublicIpOnLaunch: z.boolean().optional() })).min(1).max(16),
      }),
    },
  },
  terraformEnv: (secret, { region, endpoints }) => {
    const s = secret as AwsSecret;
    if ('roleArn' in s) throw new UnprocessableError('Provisioning with an assume-role AWS credential is not supported yet; use access keys');
    return {
      env: { AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey, ...(s.sessionToken && { AWS_SESSION_TOKEN: s.sessionToken }), AWS_REGION: region },
      stack: endpoints.api ? { endpoint: endpoints.api } : {},
    };
  },
  open: async (input, deps) => (await import('./index.ts')).openAws(input, deps.adapter),
};
