import { parseArgs } from 'node:util';
import { startEmulator } from './emulator.ts';
import { KINDS, type Cloud, type Count, type EmulatorOptions } from './options.ts';

/**
 * `npm run emulator -- --port 4566 --seed 7 --aws-instances 25000`
 *
 * Prints one JSON line on stdout once all three origins listen ({ aws, azure, gcp, caCert, gcpToken, credentials })
 * and runs until SIGTERM/SIGINT. Counts are per region: `--aws-instances 25000` puts 25,000 in each AWS region,
 * `--aws-instances us-east-1=10,eu-west-1=5` sets them one by one (unnamed regions get 0).
 */
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const countFlags = (Object.keys(KINDS) as Cloud[]).flatMap((cloud) => KINDS[cloud].map((kind) => ({ cloud, kind, flag: `${cloud}-${kebab(kind)}` })));
const listFlags = { 'aws-regions': 'aws', 'azure-locations': 'azure', 'gcp-zones': 'gcp' } as const;

const USAGE = `Usage: npm run emulator -- [--port <p>] [--host 127.0.0.1] [--seed <n>]
  [--aws-regions a,b] [--azure-locations a,b] [--gcp-zones a,b] [--gcp-project <id>] [--azure-page-size <n>]
  [--spend-resources <n>] [--spend-services <1-3>] [--spend-days <n>]
  ${countFlags.map((f) => `[--${f.flag} <n|region=n,...>]`).join(' ')}
AWS listens on <p>, Azure (https) on <p>+1, GCP on <p>+2; --port 0 (default) picks free ports.`;

function parseCount(flag: string, value: string): Count {
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((part) => {
    const m = /^([\w-]+)=(\d+)$/.exec(part.trim());
    if (!m) throw new Error(`--${flag} '${value}': expected a number or region=n,region=n`);
    return [m[1]!, Number(m[2])] as const;
  });
  return Object.fromEntries(entries);
}

function parseNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} '${value}': expected a whole number`);
  return Number(value);
}

function optionsFrom(argv: string[]): EmulatorOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean' },
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      'gcp-project': { type: 'string' },
      'azure-page-size': { type: 'string' },
      'spend-resources': { type: 'string' },
      'spend-services': { type: 'string' },
      'spend-days': { type: 'string' },
      ...Object.fromEntries(Object.keys(listFlags).map((f) => [f, { type: 'string' as const }])),
      ...Object.fromEntries(countFlags.map((f) => [f.flag, { type: 'string' as const }])),
    },
  });
  if (values.help) {
    console.error(USAGE);
    process.exit(0);
  }
  const v = values as Record<string, string | undefined>;
  const opts = { aws: { counts: {} }, azure: { counts: {} }, gcp: { counts: {} } } as {
    [C in Cloud]: { counts: Record<string, Count>; regions?: string[]; locations?: string[]; zones?: string[] };
  };
  for (const { cloud, kind, flag } of countFlags) if (v[flag] !== undefined) opts[cloud].counts[kind] = parseCount(flag, v[flag]);
  for (const [flag, cloud] of Object.entries(listFlags)) {
    const list = v[flag]?.split(',').map((s) => s.trim()).filter(Boolean);
    if (list) opts[cloud][flag === 'aws-regions' ? 'regions' : flag === 'azure-locations' ? 'locations' : 'zones'] = list;
  }
  return {
    port: parseNumber('port', v.port),
    host: v.host,
    seed: parseNumber('seed', v.seed),
    aws: opts.aws,
    azure: { ...opts.azure, pageSize: parseNumber('azure-page-size', v['azure-page-size']) },
    gcp: { ...opts.gcp, projectId: v['gcp-project'] },
    spend: {
      resources: parseNumber('spend-resources', v['spend-resources']),
      servicesPerResource: parseNumber('spend-services', v['spend-services']),
      days: parseNumber('spend-days', v['spend-days']),
    },
  } as EmulatorOptions;
}

let options: EmulatorOptions;
try {
  options = optionsFrom(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const emu = await startEmulator(options);
const { aws, azure, gcp } = emu.credentials;
console.log(JSON.stringify({
  aws: emu.urls.aws,
  azure: emu.urls.azure,
  gcp: emu.urls.gcp,
  caCert: emu.urls.caCertPath,
  gcpToken: emu.urls.gcpToken,
  credentials: { aws, azure, gcp: { projectId: gcp.projectId, keyFile: gcp.keyFilePath, clientEmail: gcp.serviceAccountKey.client_email } },
  pid: process.pid,
}));

let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    void emu.close().then(() => process.exit(0));
  });
}
