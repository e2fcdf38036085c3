import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/env.ts';
import { ROOT, childEnv, freePort, freshDatabase, killAll, masterKey, npm, redisPrefix, sleep, waitForOk, type NpmProcess } from '../support/process.ts';
import { lastBlock, readmeExamples, sessionScript, type Example } from '../support/readme-examples.ts';

/**
 * The README's examples are executable documentation. Its shell blocks run in README order in one bash session
 * (`set -euo pipefail`, variables carry over, curl fails on an error answer) against a real `npm start` on a fresh
 * database; its HCL blocks are parsed and validated by the real terraform, and the ones a reader saves (`# main.tf`)
 * are written where the session is, so the blocks after them run terraform on them. A block that breaks fails this
 * test naming its README line, the failing command's line and the output. Blocks marked
 * `# not run by the README test: <reason>` are skipped; every skip has a reason.
 */
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const { examples, problems } = readmeExamples(README);
const SESSION_LIMIT_MS = 100_000;

const dir = mkdtempSync(join(tmpdir(), 'skyloft-readme-'));
// Terraform offline, as everywhere here: an empty CLI config (the machine's names a missing file), no version check.
const TERRAFORM_ENV = { TF_CLI_CONFIG_FILE: join(dir, 'empty.tfrc'), CHECKPOINT_DISABLE: '1', TF_INPUT: '0' };
writeFileSync(TERRAFORM_ENV.TF_CLI_CONFIG_FILE, '');

let server: NpmProcess;
let serverEnv: Record<string, string>;
let dropRedis: () => Promise<void>;

beforeAll(async () => {
  const db = await freshDatabase();
  const redis = redisPrefix();
  dropRedis = redis.drop;
  const port = await freePort();
  serverEnv = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey(), PORT: String(port) };
  server = npm(['start'], serverEnv);
  await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 45_000);
});

afterAll(async () => {
  await killAll();
  await dropRedis?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('README examples', () => {
  it('every code block says its language, and every skipped one says why', () => {
    expect(problems).toEqual([]);
    expect(examples.filter((e) => e.kind === 'shell' && e.skip === undefined).length).toBeGreaterThan(3);
  });

  it('HCL blocks are formatted as terraform fmt writes them and valid for terraform validate', async () => {
    for (const ex of examples.filter((e) => e.kind === 'hcl')) {
      const work = mkdtempSync(join(dir, 'hcl-'));
      writeFileSync(join(work, 'main.tf'), `${ex.lines.join('\n')}\n`);
      const steps = [['fmt', '-check', '-diff'], ...(ex.skip === undefined ? [['init', '-backend=false'], ['validate']] : [])];
      for (const [command, ...args] of steps) {
        const { code, output } = await terraform(work, [command!, '-no-color', ...args]);
        expect(code, `README.md:${ex.line}: terraform ${command} of the HCL block failed\n${output}`).toBe(0);
      }
    }
  }, 60_000);

  it('shell blocks run in order in one bash session against a started Skyloft', async () => {
    expect(problems, 'the README\'s blocks must be fixed before they are run').toEqual([]);
    const { script, readmeLine } = sessionScript(examples);
    writeFileSync(join(dir, 'session.sh'), script);
    const started = Date.now();
    const { code, timedOut, output } = await runSession(join(dir, 'session.sh'));
    const ran = examples.filter((e) => e.skip === undefined);
    console.log(JSON.stringify({ readmeExamples: ran.length, skipped: examples.length - ran.length, seconds: (Date.now() - started) / 1000 }));
    if (code === 0 && !timedOut) return;
    const stop = lastBlock(output, readmeLine);
    const block: Example | undefined = typeof stop.index === 'number' ? examples[stop.index] : undefined;
    const where = block ? `the ${block.lang} block at README.md:${block.line}` : 'the session';
    const what = timedOut ? `did not finish within ${SESSION_LIMIT_MS / 1000} s` : `failed (exit ${code})${stop.line ? ` at README.md:${stop.line}: ${README.split('\n')[stop.line - 1]!.trim()}` : ''}`;
    expect.fail(`${where} ${what}\n--- its output ---\n${tail(stop.output, 6000)}\n--- Skyloft's log ---\n${tail(server.stderr, 3000)}`);
  }, SESSION_LIMIT_MS + 20_000);
});

/** Runs the script in its own process group (output and errors interleaved, as in a terminal), then stops the group. */
async function runSession(script: string): Promise<{ code: number | null; timedOut: boolean; output: string }> {
  const outputFile = join(dir, 'session.out');
  const fd = openSync(outputFile, 'w');
  // The reader's shell: the same configuration as the server (the CLI reads it), in the repository, a TMPDIR of ours.
  const env = childEnv({ ...serverEnv, ...TERRAFORM_ENV, TMPDIR: mkdtempSync(join(dir, 'tmp-')) });
  const child = spawn('bash', [script], { cwd: ROOT, env, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stopGroup(child.pid!, 'SIGKILL');
  }, SESSION_LIMIT_MS);
  const code = await new Promise<number | null>((ok) => child.once('exit', (c) => ok(c)));
  clearTimeout(timer);
  // Whatever a block left running in the background.
  stopGroup(child.pid!, 'SIGTERM');
  await sleep(200);
  stopGroup(child.pid!, 'SIGKILL');
  return { code, timedOut, output: readFileSync(outputFile, 'utf8') };
}

function stopGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

function terraform(cwd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('terraform', args, { cwd, env: { ...process.env, ...TERRAFORM_ENV, TF_IN_AUTOMATION: '1' }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const tail = (text: string, chars: number) => (text.length > chars ? `...${text.slice(-chars)}` : text);
