import type { Faults } from '../faults.ts';
import type { Fleet } from '../fleet.ts';
import { form, type Handler, type Request, type Response } from '../http.ts';
import type { Resolved } from '../options.ts';
import type { Spend } from '../spend.ts';
import { ce, ceOperation } from './cost.ts';
import { ec2 } from './ec2.ts';
import { authError, awsError, faultResponse, type AwsService } from './errors.ts';
import type { AwsKeys } from './keys.ts';
import { s3, s3Operation, STS_ACTIONS, sts } from './sts-s3.ts';

/**
 * AWS on one plain-http origin, as an SDK with `endpoint` set reaches it: EC2 and STS are Query-protocol POSTs
 * (`Action=...`), S3 is REST. The SigV4 credential scope (`Credential=AKID/date/region/service/aws4_request`) tells
 * the region and the service, exactly the way AWS routes a signed request.
 */
interface Scope {
  accessKeyId: string;
  region: string;
  service: string;
}

function credentialScope(req: Request): Scope | undefined {
  const header = req.headers.authorization ?? '';
  const m = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(header);
  return m ? { accessKeyId: m[1]!, region: m[2]!, service: m[3]! } : undefined;
}

function serviceOf(req: Request, scope: Scope | undefined, params: URLSearchParams): AwsService {
  if (scope?.service === 's3' || scope?.service === 'sts' || scope?.service === 'ec2' || scope?.service === 'ce') return scope.service;
  if (req.method === 'GET') return 's3';
  if (ceOperation(req) !== undefined) return 'ce';
  return STS_ACTIONS.has(params.get('Action') ?? '') ? 'sts' : 'ec2';
}

export function awsHandler(fleet: Fleet, spend: Spend, faults: Faults, keys: AwsKeys, opts: Resolved): Handler {
  return async (req): Promise<Response> => {
    const scope = credentialScope(req);
    const params = req.method === 'POST' ? form(req.body) : req.url.searchParams;
    const service = serviceOf(req, scope, params);
    const operation = service === 's3' ? s3Operation(req.method, req.url) : service === 'ce' ? (ceOperation(req) ?? 'Unknown') : (params.get('Action') ?? 'Unknown');
    const region = scope?.region ?? 'us-east-1';
    const fault = await faults.enter('aws', operation, region);
    const accessKeyId = scope?.accessKeyId ?? '';
    if (fault) return faultResponse(service, fault, accessKeyId);
    if (!scope) {
      const code = service === 's3' ? 'AccessDenied' : 'MissingAuthenticationToken';
      return awsError(service, 403, code, 'Request is missing Authentication Token');
    }
    const check = keys.check(accessKeyId, headerValue(req.headers['x-amz-security-token']));
    if (!check.ok) {
      if (check.reason === 'expired') {
        return awsError(service, service === 'ec2' ? 400 : 403, 'ExpiredToken', 'The security token included in the request is expired');
      }
      return authError(service, accessKeyId);
    }
    if (service === 'sts') return sts(operation, params, check.principal, keys, opts);
    if (service === 's3') return s3(operation, req.url, check.principal, fleet);
    if (service === 'ce') return ce(operation, req.body, check.principal, accessKeyId, spend);
    return ec2(operation, params, region, check.principal.accountId, fleet, opts);
  };
}

function headerValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}
