import { format, scaled } from '../../shared/decimal.ts';
import { AppError } from '../../shared/errors.ts';
import { withHint, type AdapterDeps, type CloudCall, type CloudInput } from '../toolbox.ts';
import { CloudAuthError, type CostLine, type CostProgress, type CostRange, type CostReader } from '../ports.ts';
import type { AwsClients } from './clients.ts';
import { translateAwsError } from './errors.ts';

/**
 * AWS cost from Cost Explorer (us-east-1, $0.01 per request, so as few requests as the answer allows):
 *
 * 1. One GetCostAndUsage over the whole range, DAILY, UnblendedCost, grouped by SERVICE and LINKED_ACCOUNT, every
 *    page followed. Each group is one line with resourceId null, yielded page by page, except the groups of the
 *    credential's own account on the days resource-level data covers (the last 14), which are held back: at most
 *    14 days x its services, a few hundred entries.
 * 2. One GetCostAndUsageWithResources (paged) over those days, filtered to the own account (AWS requires a filter;
 *    a management account would otherwise get every member's resources), grouped by RESOURCE_ID and SERVICE: each
 *    resource's line is yielded as its page arrives, and subtracted (exact decimal arithmetic) from the held-back
 *    aggregate of its (day, service).
 * 3. What is left of each held-back aggregate becomes one line with resourceId null (none when exactly zero), so
 *    the lines of a day always add up to Cost Explorer's own total for it.
 *
 * Resource-level data is opt-in (per payer account) and needs its own permission: any failure of step 2 becomes a
 * notice, never a failed collection, and the aggregates stand in for what it did not deliver. Paid requests are
 * counted per page answered (AWS does not charge refused or throttled requests).
 *
 * Options (CloudInput.options): `costResourceLevel: false` skips step 2 (and its cost).
 */
const METRIC = 'UnblendedCost';
/** Cost Explorer keeps resource-level data for the last 14 days. */
export const RESOURCE_DAYS = 14;
const NO_RESOURCE = 'NoResourceId';
const DAY_MS = 86_400_000;

const REJECTED = new Set(['ValidationException', 'BillExpirationException', 'DataUnavailableException', 'UnresolvableUsageUnitException']);
const RESTART = new Set(['InvalidNextTokenException', 'RequestChangedException']);

const GRANT_HINT =
  "Allow ce:GetCostAndUsage and ce:GetCostAndUsageWithResources to the credential's IAM user or role (a policy with "
  + '{"Effect":"Allow","Action":["ce:GetCostAndUsage","ce:GetCostAndUsageWithResources"],"Resource":"*"}, or the AWS '
  + 'managed policy AWSBillingReadOnlyAccess); Cost Explorer must also have been enabled once in the Billing and Cost '
  + 'Management console of the account';

interface AwsLikeError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Cost Explorer's errors on top of the common AWS translation, naming what the caller has to fix. */
export function translateCeError(operation: string) {
  return (err: unknown): Error => {
    const e = (err ?? {}) as AwsLikeError;
    const name = e.name ?? '';
    const status = e.$metadata?.httpStatusCode;
    const what = `AWS Cost Explorer refused ${operation} with ${name || 'an error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
    if (name === 'AccessDeniedException') return new CloudAuthError(withHint(what, GRANT_HINT), err);
    if (REJECTED.has(name)) return new AppError('cloud_request_rejected', 422, what, { retryable: false, cause: err });
    // The token no longer fits the data: only a collection started over (a new job attempt) can continue.
    if (RESTART.has(name)) return new AppError('cloud_paging_failed', 503, withHint(what, 'The collection starts over on its next attempt'), { retryable: true, cause: err });
    return translateAwsError(err);
  };
}

export interface AwsCostContext {
  input: CloudInput;
  clients: AwsClients;
  deps: AdapterDeps;
  /** The adapter's common call (STS GetCallerIdentity goes through it, on the STS budget of the home region). */
  call: CloudCall;
}

/** A held-back aggregate of the own account: what remains after subtracting its resources, scaled by 10^scale. */
interface Held {
  date: string;
  service: string;
  currency: string;
  rest: bigint;
  scale: number;
}

export function awsCost(ctx: AwsCostContext): CostReader {
  const { input, clients } = ctx;
  const ceKey = `${input.credentialId}:us-east-1:ce`;
  const callAggregate = ctx.deps.caller(translateCeError('GetCostAndUsage'));
  const callResources = ctx.deps.caller(translateCeError('GetCostAndUsageWithResources'));
  const resourceLevel = input.options?.costResourceLevel !== false;
  let account: Promise<string> | undefined;

  /** The credential's own account id, from STS GetCallerIdentity (free), asked once per opened cloud. */
  function ownAccount(signal?: AbortSignal): Promise<string> {
    account ??= (async () => {
      const sts = await clients.stsClient();
      const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
      const out = await ctx.call(`${input.credentialId}:${clients.home}:sts`, (s) => sts.send(new GetCallerIdentityCommand({}), { abortSignal: s }), signal);
      if (!out.Account) throw new Error('STS GetCallerIdentity answered without an account id');
      return out.Account;
    })();
    account.catch(() => (account = undefined));
    return account;
  }

  return {
    async *collect(range: CostRange, progress: CostProgress, signal?: AbortSignal): AsyncIterable<CostLine[]> {
      if (range.from >= range.to) return;
      const ce = await clients.ceClient();
      const { GetCostAndUsageCommand, GetCostAndUsageWithResourcesCommand } = await import('@aws-sdk/client-cost-explorer');
      const cutoff = new Date(Date.now() - RESOURCE_DAYS * DAY_MS).toISOString().slice(0, 10);
      const recentFrom = range.from > cutoff ? range.from : cutoff;
      let own: string | undefined;
      if (resourceLevel && recentFrom < range.to) {
        try {
          own = await ownAccount(signal);
        } catch (err) {
          if (signal?.aborted || err instanceof CloudAuthError) throw err;
          progress.notice(`Per-resource AWS cost was not fetched: the credential's account could not be determined (${(err as Error).message}). Costs are per service; the next collection tries again.`);
        }
      }

      // 1. The aggregate, per (day, service, linked account).
      const held = new Map<string, Held>();
      const aggregate = {
        TimePeriod: { Start: range.from, End: range.to },
        Granularity: 'DAILY' as const,
        Metrics: [METRIC],
        GroupBy: [{ Type: 'DIMENSION' as const, Key: 'SERVICE' as const }, { Type: 'DIMENSION' as const, Key: 'LINKED_ACCOUNT' as const }],
      };
      let token: string | undefined;
      do {
        const next = token;
        const out = await callAggregate(ceKey, (s) => ce.send(new GetCostAndUsageCommand({ ...aggregate, NextPageToken: next }), { abortSignal: s }), signal);
        progress.paidRequest();
        const lines: CostLine[] = [];
        for (const period of out.ResultsByTime ?? []) {
          const date = period.TimePeriod?.Start?.slice(0, 10);
          if (!date) continue;
          const recent = own !== undefined && date >= recentFrom;
          for (const g of period.Groups ?? []) {
            const service = g.Keys?.[0];
            const billingAccount = g.Keys?.[1];
            const m = g.Metrics?.[METRIC];
            if (!service || !billingAccount || m?.Amount === undefined || !m.Unit) continue;
            if (recent && billingAccount === own) {
              const [rest, scale] = scaled(m.Amount);
              held.set(heldKey(date, service, m.Unit), { date, service, currency: m.Unit, rest, scale });
            } else {
              lines.push({ date, service, resourceId: null, billingAccount, currency: m.Unit, amount: m.Amount });
            }
          }
        }
        if (lines.length > 0) yield lines;
        token = out.NextPageToken || undefined;
      } while (token);

      // 2. The own account's resources on the days that have them; nothing to split when it had no cost there.
      if (own !== undefined && held.size > 0) {
        const request = {
          TimePeriod: { Start: recentFrom, End: range.to },
          Granularity: 'DAILY' as const,
          Metrics: [METRIC],
          Filter: { Dimensions: { Key: 'LINKED_ACCOUNT' as const, Values: [own] } },
          GroupBy: [{ Type: 'DIMENSION' as const, Key: 'RESOURCE_ID' as const }, { Type: 'DIMENSION' as const, Key: 'SERVICE' as const }],
        };
        try {
          let page: string | undefined;
          do {
            const next = page;
            const out = await callResources(ceKey, (s) => ce.send(new GetCostAndUsageWithResourcesCommand({ ...request, NextPageToken: next }), { abortSignal: s }), signal);
            progress.paidRequest();
            const lines: CostLine[] = [];
            for (const period of out.ResultsByTime ?? []) {
              const date = period.TimePeriod?.Start?.slice(0, 10);
              if (!date) continue;
              for (const g of period.Groups ?? []) {
                const resourceId = g.Keys?.[0];
                const service = g.Keys?.[1];
                const m = g.Metrics?.[METRIC];
                // Cost with no resource stays in the remainder line of its (day, service).
                if (!resourceId || resourceId === NO_RESOURCE || !service || m?.Amount === undefined || !m.Unit) continue;
                const k = heldKey(date, service, m.Unit);
                let h = held.get(k);
                // A resource's service the aggregate did not report: its remainder goes negative so the day still adds up.
                if (!h) held.set(k, (h = { date, service, currency: m.Unit, rest: 0n, scale: 0 }));
                subtract(h, m.Amount);
                lines.push({ date, service, resourceId, billingAccount: own, currency: m.Unit, amount: m.Amount });
              }
            }
            if (lines.length > 0) yield lines;
            page = out.NextPageToken || undefined;
          } while (page);
        } catch (err) {
          if (signal?.aborted) throw err;
          progress.notice(resourceNotice(err, own, recentFrom, range.to));
        }
      }

      // 3. What the resources do not explain, per (day, service).
      const rest: CostLine[] = [];
      for (const h of held.values()) {
        if (h.rest !== 0n) rest.push({ date: h.date, service: h.service, resourceId: null, billingAccount: own!, currency: h.currency, amount: format(h.rest, h.scale) });
      }
      if (rest.length > 0) yield rest;
    },
  };
}

function heldKey(date: string, service: string, currency: string): string {
  return `${date}\u0000${service}\u0000${currency}`;
}

function resourceNotice(err: unknown, account: string, from: string, to: string): string {
  const message = (err as Error)?.message ?? String(err);
  const days = `${from} to ${to} (exclusive)`;
  if (err instanceof CloudAuthError && /not authorized to perform/i.test(message)) {
    return `Per-resource AWS cost of ${days} is not available: the credential may not call ce:GetCostAndUsageWithResources. `
      + "Allow that action to the credential's IAM user or role to get costs per resource; until then they are per service.";
  }
  if (err instanceof CloudAuthError) {
    return `Per-resource AWS cost of ${days} is not available for account ${account}: Cost Explorer resource-level data is not enabled (${message}). `
      + 'To enable it, open Billing and Cost Management > Cost Management preferences in the management (payer) account, turn on '
      + '"Daily granularity" resource-level data for the services to break down (at least Amazon EC2) and save; data appears within '
      + '48 hours. Until then costs are per service.';
  }
  return `Per-resource AWS cost of ${days} could not be read (${message}); costs of those days are per service. The next collection tries again.`;
}

function subtract(h: Held, amount: string): void {
  const [value, scale] = scaled(amount);
  if (scale > h.scale) {
    h.rest *= 10n ** BigInt(scale - h.scale);
    h.scale = scale;
  }
  h.rest -= value * 10n ** BigInt(h.scale - scale);
}
