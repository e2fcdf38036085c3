import { ApiBudget } from '../../src/clouds/budget.ts';
import type { OpenedCloud } from '../../src/clouds/index.ts';
import type { ObservedItem, Scope } from '../../src/clouds/ports.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { OutboundGuard } from '../../src/shared/outbound.ts';
import { REDIS_URL } from '../support/env.ts';
import { deleteKeys, uniquePrefix } from '../support/redis.ts';

/**
 * A budget on the machine's Redis under a prefix of its own, with generous limits: it paces nothing unless the
 * cloud throttles. `start()` in beforeAll, `stop()` in afterAll.
 */
export function testBudget() {
  const redis = createRedis(REDIS_URL);
  const prefix = uniquePrefix();
  return {
    redis,
    prefix,
    budget: new ApiBudget(redis, prefix, { ratePerSecond: 500, capacity: 500, minRatePerSecond: 50 }),
    start: () => redis.connect(),
    async stop() {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

/** Every item of one scope, all pages. */
export async function listAll(cloud: OpenedCloud, scope: Scope): Promise<ObservedItem[]> {
  const out: ObservedItem[] = [];
  for await (const page of cloud.inventory.list(scope)) out.push(...page);
  return out;
}

/** The outbound guard as the tests' installations configure it: the emulator's loopback hosts allowed. */
export const testOutbound = new OutboundGuard({ allowedEndpoints: [{ host: '127.0.0.1', subdomains: false }, { host: 'localhost', subdomains: false }], localMode: false });
