import type { Emulator } from '../emulator/emulator.ts';
import type { Cloud } from '../emulator/options.ts';

/**
 * POST /v1/credentials bodies for the emulator's AWS, Azure and GCP accounts: endpoints pointed at it, its keys, and
 * the GCP billing export it answers for, named `<prefix>-aws` and so on. `awsRegions` lists the AWS regions to cover (else every enabled one).
 */
export function emulatedCredentials(emu: Emulator, prefix: string, awsRegions?: string[]): Record<Cloud, Record<string, unknown>> {
  const { authorityHost, ...azureSecret } = emu.credentials.azure;
  const g = emu.options.gcp;
  return {
    aws: {
      name: `${prefix}-aws`, provider: 'aws', region: 'us-east-1', ...(awsRegions && { regions: awsRegions }), endpoints: { api: emu.urls.aws },
      secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey },
    },
    azure: { name: `${prefix}-azure`, provider: 'azure', endpoints: { api: emu.urls.azure, authorityHost }, secret: azureSecret },
    gcp: {
      name: `${prefix}-gcp`, provider: 'gcp', endpoints: { api: emu.urls.gcp },
      options: { billingDataset: g.billingDataset, billingTable: g.billingTable },
      secret: { projectId: emu.credentials.gcp.projectId, serviceAccountJson: JSON.stringify(emu.credentials.gcp.serviceAccountKey) },
    },
  };
}
