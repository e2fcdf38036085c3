import { assertNodeVersion } from './shared/node-version.ts';
assertNodeVersion();

const { parseArgs } = await import('node:util');
const { loadConfig, ConfigError } = await import('./config/index.ts');
const { createLogger } = await import('./shared/logger.ts');
const { openRuntime } = await import('./runtime.ts');
const { bootstrapAccount } = await import('./modules/accounts/bootstrap.ts');

const USAGE = `Usage: npm run cli -- <command> [--json]
  bootstrap --email <e> [--account-name <n>]   create an account, its first admin and an API key
  migrate                                      apply pending migrations and exit
  rotate-master-key                            re-encrypt every secret under SKYLOFT_MASTER_KEY
                                               (set SKYLOFT_MASTER_KEY_PREVIOUS to the key being rotated out)`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { email: { type: 'string' }, 'account-name': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean' } },
});
const command = positionals[0];
if (!command || values.help) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(command ? 0 : 2);
}

/** With --json, exactly one JSON line, last on stdout; everything else goes to stderr. */
function print(result: Record<string, unknown>, human: string): void {
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${human}\n`);
}

function fail(message: string, code = 1): never {
  if (values.json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let config;
try {
  config = loadConfig();
} catch (e) {
  fail(e instanceof ConfigError ? e.message : String(e));
}
const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);

if (!['bootstrap', 'migrate', 'rotate-master-key'].includes(command)) fail(`Unknown command "${command}"\n${USAGE}`, 2);
if (command === 'bootstrap' && !/^[^\s@]+@[^\s@]+$/.test(values.email ?? '')) fail('bootstrap needs --email <address>', 2);

let rt;
try {
  rt = await openRuntime(config, log, { migrate: true, redis: false });
} catch (e) {
  fail((e as Error).message);
}
try {
  if (command === 'bootstrap') {
    const r = await bootstrapAccount(rt.orm.em.fork(), { email: values.email!, accountName: values['account-name'] });
    print(r, `account ${r.accountId}\nuser    ${r.userId}\napi key ${r.apiKey}   (shown once: store it now)`);
  } else if (command === 'migrate') {
    print({ migrated: true }, 'migrations are up to date');
  } else {
    const credentials = await rt.credentials.resealAll(rt.orm.em.fork());
    const states = await rt.state.resealAll(rt.orm.em.fork());
    print(
      { reencrypted: { credentials, states }, keyId: rt.ring.currentKeyId },
      `re-encrypted ${credentials} credential secret(s) and ${states} state version(s) under key ${rt.ring.currentKeyId}`,
    );
  }
} catch (e) {
  log.error({ err: e }, 'command failed');
  await rt.close();
  fail((e as Error).message);
}
await rt.close();
process.exit(0);
