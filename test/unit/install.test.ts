import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** What a new user meets installing and starting Skyloft on a machine whose own Node is older than the project's. */
const ROOT = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; allowScripts: Record<string, boolean> };
const { nodeVersionProblem } = createRequire(import.meta.url)('../../src/node-check.cjs') as { nodeVersionProblem(version?: string): string | undefined };

/** The machine's own Node, when it is one the project cannot run on (Node 20 here). */
const OLD_NODE = '/usr/bin/node';
const oldNode = existsSync(OLD_NODE) && nodeVersionProblem(spawnSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()) !== undefined;

/** Scripts that run no Node code of ours (tsc checks types only). */
const NOT_NODE = new Set(['typecheck']);

describe('the Node version check', () => {
  it('passes on the Node this suite runs on (the node devDependency, not the system Node)', () => {
    expect(nodeVersionProblem()).toBeUndefined();
  });

  it('refuses Node older than 22.18, saying to use npm start', () => {
    expect(nodeVersionProblem('20.20.2')).toMatch(/needs Node 22\.18 or newer; this is Node 20\.20\.2[^]*Use npm start \(Node 24 comes with the project\)/);
    expect(nodeVersionProblem('22.17.1')).toBeDefined();
    expect(nodeVersionProblem('22.18.0')).toBeUndefined();
    expect(nodeVersionProblem('24.0.0')).toBeUndefined();
  });

  it.skipIf(!oldNode)('speaks first in every npm script run on an older Node: the message and exit 1, no stack trace', () => {
    const scripts = Object.entries(pkg.scripts).filter(([name]) => !NOT_NODE.has(name));
    expect(scripts.map(([name]) => name)).toEqual(expect.arrayContaining(['start', 'cli', 'test', 'bench']));
    for (const [name, command] of scripts) {
      // What npm runs when node_modules/.bin/node is missing: the script's command with the machine's Node on PATH.
      const run = spawnSync('sh', ['-c', command], { cwd: ROOT, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME }, timeout: 30_000 });
      expect(run.status, `${name}: ${run.stderr}`).toBe(1);
      expect(run.stderr, name).toContain('Use npm start (Node 24 comes with the project)');
      expect(run.stderr, name).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|\n\s+at /);
    }
  });

  it('stays silent on a Node that can run Skyloft', () => {
    const run = spawnSync(process.execPath, ['-r', './src/node-check.cjs', '-e', 'console.log("ran")'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('ran\n');
    expect(run.stderr).toBe('');
  });
});

describe('npm ci', () => {
  it('runs no install script nobody reviewed: every installed package with one is in allowScripts (npm only warns)', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => entry.hasInstallScript && path !== '' && existsSync(join(ROOT, path)))
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts).toContain('node');
    expect(withScripts.filter((name) => !(name in pkg.allowScripts))).toEqual([]);
  });
});
