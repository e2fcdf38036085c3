import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { allowList, isAllowed } from '../../src/http/plugins/metrics.ts';

describe('SKYLOFT_METRICS_ALLOW', () => {
  it('defaults to the loopback addresses of both families', () => {
    expect(loadConfig({}).metrics.allow).toEqual(['127.0.0.1', '::1']);
  });

  it('takes IPv4 and IPv6 addresses and CIDRs, and "none" for a key-only /metrics', () => {
    expect(loadConfig({ SKYLOFT_METRICS_ALLOW: ' 10.0.0.0/8, fd00::/8 ,192.0.2.7' }).metrics.allow).toEqual(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
    expect(loadConfig({ SKYLOFT_METRICS_ALLOW: 'none' }).metrics.allow).toEqual([]);
  });

  it('refuses host names, bad prefixes and garbage, naming each bad entry', () => {
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', '10.0.0.0/']) {
      let error: unknown;
      try {
        loadConfig({ SKYLOFT_METRICS_ALLOW: `127.0.0.1,${bad}` });
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join('\n'), bad).toMatch(new RegExp(`SKYLOFT_METRICS_ALLOW: .*bad: ${bad.replace(/[.*/]/g, '\\$&')}$`));
    }
  });
});

describe('the /metrics allow-list check', () => {
  const list = allowList(['127.0.0.1', '10.1.0.0/16', 'fd00:abcd::/32', '::1']);

  it('matches addresses and subnets of either family', () => {
    expect(isAllowed(list, '127.0.0.1')).toBe(true);
    expect(isAllowed(list, '10.1.255.3')).toBe(true);
    expect(isAllowed(list, '10.2.0.1')).toBe(false);
    expect(isAllowed(list, 'fd00:abcd:1::5')).toBe(true);
    expect(isAllowed(list, 'fd00:abce::5')).toBe(false);
    expect(isAllowed(list, '::1')).toBe(true);
    expect(isAllowed(list, '127.0.0.2')).toBe(false);
  });

  it('checks an IPv4 client seen on a dual-stack socket (::ffff:a.b.c.d) as its IPv4 address', () => {
    expect(isAllowed(list, '::ffff:10.1.2.3')).toBe(true);
    expect(isAllowed(list, '::FFFF:127.0.0.1')).toBe(true);
    expect(isAllowed(list, '::ffff:10.2.2.3')).toBe(false);
  });
});
