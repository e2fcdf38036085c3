import './node-check.cjs'; // first: an older Node is told to use npm start (see the file)

const { parseArgs } = await import('node:util');
const { loadConfig, ConfigError } = await import('./config/index.ts');
const { createLogger } = await import('./shared/logger.ts');
const { logFormat } = await import('./shared/log-format.ts');
const { openRuntime } = await import('./runtime.ts');
const { bootstrapAccount } = await import('./modules/accounts/index.ts');
const installationKeys = await import('./modules/installation/index.ts');

const USAGE = `Usage: npm run cli -- <command> [--json]
  bootstrap --email <e> [--account-name <n>]   create an account, its first admin and an API key
  migrate                                      apply pending migrations and exit
  rotate-master-key                            re-encrypt every secret under SKYLOFT_MASTER_KEY
                                               (set SKYLOFT_MASTER_KEY_PREVIOUS to the key being rotated out)
  installation-key create --name <n>           make a key of the installation's operators (shown once)
  installation-key list                        list them (no keys, only their prefixes)
  installation-key revoke <id>                 revoke one; its dashboard sessions end at once`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { email: { type: 'string' }, 'account-name': { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean' } },
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
const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, undefined, logFormat(config.logFormat));

if (!['bootstrap', 'migrate', 'rotate-master-key', 'installation-key'].includes(command)) fail(`Unknown command "${command}"\n${USAGE}`, 2);
if (command === 'bootstrap' && !/^[^\s@]+@[^\s@]+$/.test(values.email ?? '')) fail('bootstrap needs --email <address>', 2);
const keyAction = positionals[1];
if (command === 'installation-key') {
  if (!['create', 'list', 'revoke'].includes(keyAction ?? '')) fail(`installation-key needs create, list or revoke\n${USAGE}`, 2);
  if (keyAction === 'create' && !/^\S.{0,99}$/.test(values.name ?? '')) fail('installation-key create needs --name <name> (1-100 characters)', 2);
  if (keyAction === 'revoke' && !positionals[2]) fail('installation-key revoke needs the key\'s id', 2);
}

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
  } else if (command === 'installation-key') {
    const em = rt.orm.em.fork();
    if (keyAction === 'create') {
      const { id, key, prefix } = await installationKeys.createInstallationKey(em, values.name!);
      print({ id, key }, `installation key ${id}\nkey ${key}   (shown once: store it now)\nprefix ${prefix}`);
    } else if (keyAction === 'list') {
      const items = await installationKeys.listInstallationKeys(em);
      print({ items }, items.map((k) => `${k.id}  ${k.prefix}...  ${k.revokedAt ? `revoked ${k.revokedAt}` : 'active'}  ${k.name}`).join('\n') || 'no installation keys');
    } else {
      const revoked = await installationKeys.revokeInstallationKey(em, positionals[2]!);
      print(revoked, `installation key ${revoked.id} revoked at ${revoked.revokedAt}`);
    }
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
