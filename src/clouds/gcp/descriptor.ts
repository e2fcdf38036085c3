import { z } from 'zod';
import type { ProviderDescriptor, SecretPolicy } from '../descriptor.ts';
import { cidr, name, networkRef, secretString as str } from '../fields.ts';

const secret = z.strictObject({ serviceAccountJson: str, projectId: str });
export type GcpSecret = z.infer<typeof secret>;

export const gcp: ProviderDescriptor = {
  id: 'gcp',
  secret: () => secret,
  secretProblems: (s, policy) => {
    const problem = serviceAccountProblem((s as GcpSecret).serviceAccountJson, policy);
    return problem ? [{ path: 'secret.serviceAccountJson', message: problem }] : [];
  },
  kinds: {
    vm: {
      spec: z.strictObject({ machineType: name, image: name, zone: name.optional(), diskSizeGb: z.number().int().min(1).max(65_536).optional(), ...networkRef }),
      drift: { spec: ['machineType'], observed: ['machineType'] },
    },
    storage: {
      spec: z.strictObject({
        bucketName: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/).optional(),
        location: name.optional(),
        storageClass: z.enum(['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE']).optional(),
        versioning: z.boolean().optional(),
        forceDestroy: z.boolean().optional(),
      }),
    },
    network: { spec: z.strictObject({ subnets: z.array(z.strictObject({ name, ipCidrRange: cidr })).min(1).max(16) }) },
  },
  terraformEnv: (raw) => {
    const s = raw as GcpSecret;
    return { env: { GOOGLE_CREDENTIALS: s.serviceAccountJson, GOOGLE_PROJECT: s.projectId }, stack: { project: s.projectId } };
  },
  open: async (input, deps) => (await import('./index.ts')).openGcp(input, deps.adapter),
};

const GOOGLE_TOKEN_URIS = new Set(['https://oauth2.googleapis.com/token', 'https://accounts.google.com/o/oauth2/token']);

/**
 * A GCP key reaches terraform's google provider as GOOGLE_CREDENTIALS, which takes a path as readily as content and
 * follows external_account `credential_source` files and URLs and a key's `token_uri`: only a service account key's
 * content is accepted, and a token_uri other than Google's must pass the endpoint guard like endpoints.api.
 */
function serviceAccountProblem(text: string, policy: SecretPolicy): string | undefined {
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    // JSON.parse's own message would quote the secret.
    return 'must be the content of a service account key file (JSON), not a path or anything else';
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return 'must be the content of a service account key file (a JSON object)';
  const k = key as Record<string, unknown>;
  if (k.type !== 'service_account' || 'credential_source' in k) {
    return 'must be a service account key (type "service_account"); external_account, authorized_user and impersonation files are refused';
  }
  for (const field of ['client_email', 'private_key']) {
    if (typeof k[field] !== 'string' || k[field] === '') return `must hold ${field}, as a service account key file does`;
  }
  if (k.token_uri !== undefined && !GOOGLE_TOKEN_URIS.has(String(k.token_uri))) {
    const problem = typeof k.token_uri === 'string' ? policy.endpointProblem(k.token_uri) : 'must be a URL';
    if (problem) return `token_uri ${problem}`;
  }
  if (k.universe_domain !== undefined && k.universe_domain !== 'googleapis.com') {
    return 'universe_domain must be googleapis.com (point the credential elsewhere with endpoints.api)';
  }
  return undefined;
}
