import { InvalidPageToken, type Fleet } from '../fleet.ts';
import { escapeXml as x, requestId, xml, type Response } from '../http.ts';
import type { Resolved } from '../options.ts';
import { awsError } from './errors.ts';
import { ROLE_ARN, type AwsKeys, type Principal } from './keys.ts';

/** STS (GetCallerIdentity, AssumeRole) and S3 (ListBuckets, GetBucketTagging) in their real XML. */
const STS_NS = 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"';
const S3_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

export const STS_ACTIONS = new Set(['GetCallerIdentity', 'AssumeRole']);

function stsOk(action: string, result: string): Response {
  return xml(200, `<${action}Response ${STS_NS}><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId()}</RequestId></ResponseMetadata></${action}Response>`);
}

export function sts(action: string, params: URLSearchParams, caller: Principal, keys: AwsKeys, opts: Resolved): Response {
  if (action === 'GetCallerIdentity') {
    return stsOk(action, `<Arn>${caller.arn}</Arn><UserId>${caller.userId}</UserId><Account>${caller.accountId}</Account>`);
  }
  if (action !== 'AssumeRole') return awsError('sts', 400, 'InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
  const roleArn = params.get('RoleArn') ?? '';
  const session = params.get('RoleSessionName') ?? '';
  const seconds = Number(params.get('DurationSeconds') ?? 3600);
  if (!ROLE_ARN.test(roleArn)) return awsError('sts', 400, 'ValidationError', `${roleArn} is invalid`);
  if (!/^[\w+=,.@-]{2,64}$/.test(session)) {
    return awsError('sts', 400, 'ValidationError', `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy constraint`);
  }
  if (!(seconds >= 900 && seconds <= 43_200)) return awsError('sts', 400, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  const role = opts.aws.roles.find((r) => r.arn === roleArn);
  const denied = opts.aws.roles.length > 0 && (!role || (role.externalId !== undefined && role.externalId !== params.get('ExternalId')));
  if (denied) return awsError('sts', 403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
  const t = keys.issue(roleArn, session, seconds);
  return stsOk(
    action,
    `<AssumedRoleUser><AssumedRoleId>${t.principal.userId}</AssumedRoleId><Arn>${t.principal.arn}</Arn></AssumedRoleUser>`
      + `<Credentials><AccessKeyId>${t.accessKeyId}</AccessKeyId><SecretAccessKey>${x(t.secretAccessKey)}</SecretAccessKey>`
      + `<SessionToken>${x(t.sessionToken)}</SessionToken><Expiration>${t.expiration.toISOString()}</Expiration></Credentials>`
      + '<PackedPolicySize>6</PackedPolicySize>',
  );
}

/** S3 requests are REST: GET / lists buckets, GET /{bucket}?tagging reads a bucket's tags (path-style). */
export function s3Operation(method: string, url: URL): string {
  if (method === 'GET' && url.pathname === '/') return 'ListBuckets';
  if (method === 'GET' && url.searchParams.has('tagging')) return 'GetBucketTagging';
  return `${method} ${url.pathname}`;
}

export function s3(operation: string, url: URL, caller: Principal, fleet: Fleet): Response {
  if (operation === 'ListBuckets') return listBuckets(url, caller, fleet);
  if (operation === 'GetBucketTagging') {
    const name = decodeURIComponent(url.pathname.slice(1).split('/')[0] ?? '');
    const bucket = fleet.find(name);
    if (!bucket || bucket.scope.kind !== 'buckets') return awsError('s3', 404, 'NoSuchBucket', 'The specified bucket does not exist');
    const tags = Object.entries(bucket.tags);
    if (tags.length === 0) return awsError('s3', 404, 'NoSuchTagSet', 'The TagSet does not exist');
    const set = tags.map(([k, v]) => `<Tag><Key>${x(k)}</Key><Value>${x(v)}</Value></Tag>`).join('');
    return xml(200, `<Tagging ${S3_NS}><TagSet>${set}</TagSet></Tagging>`);
  }
  return awsError('s3', 501, 'NotImplemented', `The emulator does not implement S3 '${operation}'`);
}

function listBuckets(url: URL, caller: Principal, fleet: Fleet): Response {
  const max = Number(url.searchParams.get('max-buckets') ?? 10_000);
  if (!Number.isInteger(max) || max < 1 || max > 10_000) return awsError('s3', 400, 'InvalidArgument', 'max-buckets must be between 1 and 10000');
  const region = url.searchParams.get('bucket-region') ?? undefined;
  let page;
  try {
    page = fleet.page(fleet.scopes('aws', 'buckets', region), url.searchParams.get('continuation-token') ?? undefined, max);
  } catch (err) {
    if (err instanceof InvalidPageToken) return awsError('s3', 400, 'InvalidArgument', 'The continuation token provided is incorrect');
    throw err;
  }
  const buckets = page.items
    .map((b) => `<Bucket><Name>${b.id}</Name><CreationDate>${b.createdAt.toISOString()}</CreationDate><BucketRegion>${b.scope.region}</BucketRegion></Bucket>`)
    .join('');
  const owner = Buffer.from(caller.accountId.padEnd(32, '0')).toString('hex');
  const next = page.nextToken ? `<ContinuationToken>${page.nextToken}</ContinuationToken>` : '';
  return xml(200, `<ListAllMyBucketsResult ${S3_NS}><Owner><ID>${owner}</ID></Owner><Buckets>${buckets}</Buckets>${next}</ListAllMyBucketsResult>`);
}
