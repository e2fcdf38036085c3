import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsKeys } from './aws/keys.ts';
import { awsHandler } from './aws/server.ts';
import { AzureIdentity } from './azure/identity.ts';
import { azureHandler } from './azure/server.ts';
import { control, isControl, type Control } from './control.ts';
import { Faults } from './faults.ts';
import { Fleet } from './fleet.ts';
import { GcpOAuth, type ServiceAccountKey } from './gcp/oauth.ts';
import { gcpHandler } from './gcp/server.ts';
import { close, listen, serve, type Handler } from './http.ts';
import { resolveOptions, type AwsKey, type EmulatorOptions, type Resolved } from './options.ts';
import { Spend } from './spend.ts';
import { selfSignedCertificate } from './tls.ts';

/**
 * One emulator, three origins: AWS (http), Azure (https, self-signed) and GCP (http), sharing one fleet, one fault
 * table and one call counter. See README.md for how each SDK is pointed at it.
 */
export interface Emulator {
  urls: {
    aws: string;
    azure: string;
    gcp: string;
    /** PEM of the Azure origin's self-signed certificate (its own CA), for `tlsOptions: { ca }`. */
    caCert: string;
    caCertPath: string;
    /** GCP OAuth token endpoint (a JWT client's token request is redirected here). */
    gcpToken: string;
  };
  credentials: {
    aws: AwsKey;
    azure: { tenantId: string; clientId: string; clientSecret: string; subscriptionId: string; authorityHost: string };
    gcp: { projectId: string; serviceAccountKey: ServiceAccountKey; keyFilePath: string };
  };
  fleet: Fleet;
  /** Billed spend; `spend.restate(cloud, day)`, `spend.billingDenied.add(principal)`. */
  spend: Spend;
  faults: Faults;
  /** Revokes an AWS access key id, an Azure client id or a GCP service-account email. */
  revoke: (id: string) => boolean;
  options: Resolved;
  close: () => Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const opts = resolveOptions(options);
  const dir = await mkdtemp(join(tmpdir(), 'skyloft-emulator-'));
  const cert = await selfSignedCertificate(dir, opts.host);
  const fleet = new Fleet(opts);
  const spend = new Spend(fleet, opts.seed, opts.spend);
  const faults = new Faults(opts.seed);
  const awsKeys = new AwsKeys(opts.aws.keys);
  const identity = new AzureIdentity(opts.azure);
  const oauth = new GcpOAuth();
  const saKey = oauth.createServiceAccount(opts.gcp.projectId, 'skyloft-inventory', opts.seed);
  const keyFilePath = join(dir, 'gcp-service-account.json');
  await writeFile(keyFilePath, JSON.stringify(saKey, null, 2));

  const revoke = (id: string) => awsKeys.revoke(id) || identity.revoke(id) || oauth.revoke(id);
  const ctl: Control = { fleet, spend, faults, revoke };
  const withControl = (h: Handler): Handler => (req) => (isControl(req) ? control(req, ctl) : h(req));

  const servers: Server[] = [createHttp(), createHttps({ key: cert.key, cert: cert.cert }), createHttp()];
  const [awsServer, azureServer, gcpServer] = servers as [Server, Server, Server];
  const origins = ['', '', ''];
  serve(awsServer, () => origins[0]!, withControl(awsHandler(fleet, spend, faults, awsKeys, opts)));
  serve(azureServer, () => origins[1]!, withControl(azureHandler(fleet, spend, faults, identity, opts)));
  serve(gcpServer, () => origins[2]!, withControl(gcpHandler(fleet, spend, faults, oauth, opts)));
  try {
    const ports = [];
    for (const [i, server] of servers.entries()) ports.push(await listen(server, opts.port === 0 ? 0 : opts.port + i, opts.host));
    origins[0] = `http://${opts.host}:${ports[0]}`;
    origins[1] = `https://${opts.host}:${ports[1]}`;
    origins[2] = `http://${opts.host}:${ports[2]}`;
  } catch (err) {
    await Promise.all(servers.map((s) => (s.listening ? close(s) : undefined)));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    urls: { aws: origins[0]!, azure: origins[1]!, gcp: origins[2]!, caCert: cert.cert, caCertPath: cert.certPath, gcpToken: `${origins[2]}/token` },
    credentials: {
      aws: opts.aws.keys[0]!,
      azure: { ...pick(opts.azure), authorityHost: origins[1]! },
      gcp: { projectId: opts.gcp.projectId, serviceAccountKey: saKey, keyFilePath },
    },
    fleet,
    spend,
    faults,
    revoke,
    options: opts,
    close: async () => {
      await Promise.all(servers.map(close));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function pick(a: Resolved['azure']) {
  return { tenantId: a.tenantId, clientId: a.clientId, clientSecret: a.clientSecret, subscriptionId: a.subscriptionId };
}
