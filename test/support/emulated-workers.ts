import tls from 'node:tls';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import type { TestContext } from './context.ts';

/**
 * The in-process workers of a test context, against the emulator: its self-signed CA is trusted process-wide while they
 * run (the workers' openCloud gets no `tls` option; Azure is https). Answers their stop, which also restores the CAs.
 */
export async function startWorkersOnEmulator(ctx: TestContext, emu: { urls: { caCert: string } }): Promise<() => Promise<void>> {
  const previousCAs = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...previousCAs, emu.urls.caCert]);
  try {
    const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
    const stop = await startWorkers(rt);
    return async () => {
      await stop();
      tls.setDefaultCACertificates(previousCAs);
    };
  } catch (e) {
    tls.setDefaultCACertificates(previousCAs);
    throw e;
  }
}

/** A file's afterAll: stops the workers, then closes the emulator and the context; each only if it was started. */
export async function closeEmulated(started: { stopWorkers?: () => Promise<void>; emu?: { close(): Promise<void> }; ctx?: { close(): Promise<void> } }): Promise<void> {
  await started.stopWorkers?.();
  await started.emu?.close();
  await started.ctx?.close();
}
