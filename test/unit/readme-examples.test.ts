import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastBlock, readmeExamples, sessionScript } from '../support/readme-examples.ts';

/** The README test's own rules, on small documents: what it refuses to run, and how it names a failing line. */
const fence = (lang: string, ...lines: string[]) => ['```' + lang, ...lines, '```'].join('\n');

describe('README examples harness', () => {
  it('refuses a block without a language, a skip without a reason, an unmarked npm ci or docker, and a && b', () => {
    const doc = [
      fence('', 'curl -s $SKY/v1/me'),
      fence('bash', '# not run by the README test', 'sleep 600'),
      fence('bash', 'npm ci && npm start'),
      fence('bash', 'export X=1; docker compose up -d'),
      fence('bash', 'terraform init && terraform plan'),
      fence('bash', '# not run by the README test: it needs a Docker engine', 'docker compose up -d'),
      fence('bash', 'echo fine   # npm ci in a comment is fine'),
      fence('yaml', 'a: b'),
    ].join('\n\n');
    const { examples, problems } = readmeExamples(doc);
    expect(problems).toEqual([
      expect.stringMatching(/^README\.md:1: a code block without a language/),
      expect.stringMatching(/^README\.md:5: "not run by the README test" needs a reason/),
      expect.stringMatching(/^README\.md:10: `a && b` hides a failure/),
      expect.stringMatching(/^README\.md:10: the block runs `npm ci`/),
      expect.stringMatching(/^README\.md:14: the block runs `docker`/),
      expect.stringMatching(/^README\.md:18: `a && b` hides a failure/),
    ]);
    expect(examples.map((e) => [e.line, e.kind, e.skip])).toEqual([
      [5, 'shell', ''],
      [10, 'shell', undefined],
      [14, 'shell', undefined],
      [18, 'shell', undefined],
      [22, 'shell', 'it needs a Docker engine'],
      [27, 'shell', undefined],
    ]);
  });

  it.each(['echo "${UNSET_VARIABLE}"', 'GOT=$(false)', 'false | cat', 'ls /no/such/folder'])('runs blocks in one session (variables carry over), writes a named HCL block, and names the README line where %s fails', (failing) => {
    const doc = [
      '# Title',
      fence('bash', 'cd "$(mktemp -d)"', 'export GREETING=hello'),
      fence('hcl', '# main.tf', 'terraform {}'),
      fence('bash', 'echo "$GREETING"', 'cat main.tf', failing, 'echo never'),
    ].join('\n');
    const { examples, problems } = readmeExamples(doc);
    expect(problems).toEqual([]);
    expect(examples[1]).toMatchObject({ kind: 'hcl', file: 'main.tf' });
    const { script, readmeLine } = sessionScript(examples);
    // As the e2e test runs it: a script file, errors interleaved with the output.
    const dir = mkdtempSync(join(tmpdir(), 'readme-harness-'));
    writeFileSync(join(dir, 'session.sh'), script);
    const run = spawnSync('bash', ['-c', 'bash session.sh 2>&1'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, TMPDIR: dir } });
    rmSync(dir, { recursive: true, force: true });
    expect(run.status).not.toBe(0);
    const stop = lastBlock(run.stdout, readmeLine);
    expect(stop.index).toBe(2);
    // Line 13 of the document: the failing command.
    expect(stop.line).toBe(13);
    expect(stop.output).toContain('hello\n# main.tf\nterraform {}');
    expect(stop.output).not.toContain('never');
  });
});
