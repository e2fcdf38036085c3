import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { ROOT, type Scope, sleep } from './support.ts';

/** The cloud emulator (test/emulator) in its own process, as the suites that read clouds run it. */
export interface EmulatorInfo {
  aws: string;
  gcp: string;
  credentials: {
    aws: { accessKeyId: string; secretAccessKey: string };
    /** keyFile: the service-account key JSON the emulator wrote. */
    gcp: { projectId: string; keyFile: string; clientEmail: string };
  };
}

/** `npm run --silent emulator` in its own process group; resolves with the JSON line it prints. */
export async function startEmulatorProcess(scope: Scope, args: string[]): Promise<EmulatorInfo> {
  const child = spawn('npm', ['run', '--silent', 'emulator', '--', ...args], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH ?? ''}` },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  scope.defer(async () => {
    const signal = (s: NodeJS.Signals) => { try { process.kill(-pid, s); } catch { /* gone */ } };
    signal('SIGTERM');
    for (let i = 0; i < 50 && groupPids(pid).length > 0; i++) await sleep(100);
    if (groupPids(pid).length > 0) signal('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`emulator printed nothing in 60 s:\n${err}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        ok(JSON.parse(out.slice(0, nl)) as EmulatorInfo);
      } catch {
        fail(new Error(`emulator printed no JSON: ${out}\n${err}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`emulator exited with ${code}:\n${out}\n${err}`));
    });
  });
}

/** Live (non-zombie) processes of a process group, with their parent pid and command line. */
export function groupPids(pgid: number): { pid: number; ppid: number; cmd: string }[] {
  const found: { pid: number; ppid: number; cmd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      found.push({ pid: Number(name), ppid: Number(ppid), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // gone while reading
    }
  }
  return found;
}

