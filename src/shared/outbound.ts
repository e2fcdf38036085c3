import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AllowedEndpoint, Config } from '../config/index.ts';
import { isCertificateCode, type CertificateFailure } from './certificates.ts';
import { AppError } from './errors.ts';

/**
 * The outbound guard: where a tenant's credential may make Skyloft's workers connect. A credential's endpoint
 * overrides (`endpoints.api`, `endpoints.authorityHost`) are URLs a tenant chooses and workers call every few minutes
 * with the host's network position, so:
 *
 * - at request time, an override must match SKYLOFT_ALLOWED_ENDPOINTS (local mode also allows loopback), and one
 *   naming a link-local or cloud metadata address is refused in every spelling (WHATWG URL parsing turns decimal,
 *   octal, hex and percent-encoded IPv4 into dotted form and lowercases names; BlockList matches IPv4-mapped IPv6);
 * - at connect time, every SDK client built from a tenant's credential connects through `agents()`, whose lookup
 *   refuses a name that resolves (or later re-resolves) to such an address, and whose createConnection refuses such
 *   an address given literally (Node skips the lookup for IP literals, e.g. an Azure nextLink followed verbatim).
 *
 * The installation's own configuration (the SDKs' variables such as AWS_ENDPOINT_URL, the host's metadata service
 * used by SKYLOFT_AWS_HOST_IDENTITY) never passes through here: it is not a tenant's choice.
 */

/** Link-local and cloud metadata services: never a credential's endpoint, whatever the configuration says. */
const ALWAYS_REFUSED = new BlockList();
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local: AWS/GCP/Azure/OpenStack metadata (.169.254), ECS task credentials (.170.2)
ALWAYS_REFUSED.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
ALWAYS_REFUSED.addAddress('168.63.129.16', 'ipv4'); // Azure WireServer (the platform's host agent endpoint)
ALWAYS_REFUSED.addAddress('192.0.0.192', 'ipv4'); // Oracle Cloud's legacy metadata
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6'); // link-local
ALWAYS_REFUSED.addSubnet('fd00:ec2::', 32, 'ipv6'); // AWS's IPv6 instance services: metadata ::254, DNS ::23, NTP ::123
ALWAYS_REFUSED.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6'); // 169.254/16 behind a NAT64 gateway
ALWAYS_REFUSED.addSubnet('::a9fe:0', 112, 'ipv6'); // 169.254/16 as a deprecated IPv4-compatible address

/** Names of metadata services (they resolve into the ranges above; refusing the name answers 400 before any DNS). */
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']);

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addSubnet('0.0.0.0', 8, 'ipv4'); // "this host": Linux connects 0.0.0.0 to itself
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addAddress('::', 'ipv6');

/** In every message of a refused connection, so it is recognised however an SDK wraps the socket's error. */
export const OUTBOUND_REFUSED_CODE = 'ERR_SKYLOFT_OUTBOUND_REFUSED';
const CONNECT_REFUSED = `Refused to connect (${OUTBOUND_REFUSED_CODE}): the credential's endpoint resolves to a link-local or cloud metadata address`;

/** A connection or an endpoint the guard refused: not retryable, and its message carries no address. */
export class OutboundRefusedError extends AppError {
  constructor(message = CONNECT_REFUSED) {
    super('outbound_refused', 422, message);
  }
}

function family(address: string): 'ipv4' | 'ipv6' | undefined {
  const f = isIP(address);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : undefined;
}

/** A host in the one spelling every comparison uses: WHATWG-parsed, no IPv6 brackets, no trailing dots. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').replace(/\.+$/, '');
}

/** Whether a host (name or address, as hostOf spells it) is link-local or a metadata service. */
export function isRefusedHost(host: string): boolean {
  const f = family(host);
  return f ? ALWAYS_REFUSED.check(host, f) : METADATA_NAMES.has(host);
}

function isLoopbackHost(host: string): boolean {
  const f = family(host);
  return f ? LOOPBACK.check(host, f) : host === 'localhost' || host.endsWith('.localhost');
}

function matches(entry: AllowedEndpoint, url: URL, host: string): boolean {
  if ('origin' in entry) return url.origin === entry.origin;
  return entry.subdomains ? host.endsWith(`.${entry.host}`) : host === entry.host;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** DNS as the guard sees it; tests inject their own. */
export type Resolver = (hostname: string, family: number) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = (hostname, f) => dnsLookup(hostname, { all: true, family: f });

type ConnectCallback = (err: Error | null, stream: Duplex) => void;

/**
 * The agents of one opened cloud, how many connections they refused, and the TLS certificates their connections
 * refused to trust, in order (SDKs such as MSAL swallow both errors).
 */
export interface GuardedAgents {
  http: http.Agent;
  https: https.Agent;
  refusals: () => number;
  certificateFailures: () => readonly CertificateFailure[];
}

export class OutboundGuard {
  private readonly allowed: readonly AllowedEndpoint[];
  private readonly localMode: boolean;
  private readonly resolve: Resolver;

  constructor(opts: { allowedEndpoints: readonly AllowedEndpoint[]; localMode: boolean; resolve?: Resolver }) {
    this.allowed = opts.allowedEndpoints;
    this.localMode = opts.localMode;
    this.resolve = opts.resolve ?? systemResolver;
  }

  static fromConfig(config: Config, resolve?: Resolver): OutboundGuard {
    return new OutboundGuard({ allowedEndpoints: config.outbound.allowedEndpoints, localMode: config.databaseUrl === undefined, resolve });
  }

  /** Request time: why `raw` may not be a credential's endpoint, or undefined when it may. Never echoes the URL. */
  problem(raw: string): string | undefined {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return 'must be an http(s) URL';
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
    // `https://allowed.example@169.254.169.254/` reads as the first host to a person and as the second to a client.
    if (url.username || url.password) return 'must not carry a user name or password';
    const host = hostOf(url);
    if (isRefusedHost(host)) return 'names a link-local or cloud metadata address, which a credential may never use';
    if (this.allowed.some((e) => matches(e, url, host))) return undefined;
    if (this.localMode && isLoopbackHost(host)) return undefined;
    return `is not an endpoint this installation allows: its operators list allowed endpoints in SKYLOFT_ALLOWED_ENDPOINTS${
      this.localMode ? ' (local mode also allows loopback)' : ''
    }`;
  }

  /** The request-time check of a credential's endpoint overrides, as field problems (none when all are allowed). */
  endpointProblems(endpoints: object | undefined): Array<{ path: string; message: string }> {
    return Object.entries(endpoints ?? {}).flatMap(([field, url]: [string, unknown]) => {
      const problem = typeof url === 'string' ? this.problem(url) : undefined;
      return problem ? [{ path: `endpoints.${field}`, message: problem }] : [];
    });
  }

  /**
   * Connect time: the http and https agents every SDK client of one opened cloud (one job) uses. Fresh per job, so
   * the refusals they count are that job's own; keep-alive still reuses connections within the job.
   */
  agents(ca?: string): GuardedAgents {
    let refused = 0;
    const onRefuse = () => void refused++;
    const certificates: CertificateFailure[] = [];
    const options = { keepAlive: true, lookup: this.lookupFor(onRefuse) };
    return {
      http: new GuardedHttpAgent(options, onRefuse),
      https: new GuardedHttpsAgent({ ...options, ...(ca && { ca }) }, onRefuse, (f) => void certificates.push(f)),
      refusals: () => refused,
      certificateFailures: () => certificates,
    };
  }

  /** The lookup of every guarded connection: all answers are checked, and one refused answer refuses the name. */
  private lookupFor(onRefuse: () => void): LookupFunction {
    return (hostname, options, callback) => {
      const f = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
      this.resolve(hostname, f).then(
        (addresses) => {
          // A name answering a refused address beside good ones is refused whole: happy eyeballs or a retry would
          // otherwise reach the refused one.
          if (addresses.length === 0) {
            callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
          } else if (addresses.some((a) => !family(a.address) || isRefusedHost(a.address))) {
            onRefuse();
            callback(new OutboundRefusedError(), '', 0);
          } else if (options.all) {
            callback(null, addresses.map((a) => ({ address: a.address, family: a.family })));
          } else {
            callback(null, addresses[0]!.address, addresses[0]!.family);
          }
        },
        (err: NodeJS.ErrnoException) => callback(err, '', 0),
      );
    };
  }
}

/** An IP literal skips the lookup: refused here instead, through the agent's asynchronous callback. */
function refusedLiteral(options: { host?: string | null; hostname?: string | null }, onRefuse: () => void, callback?: ConnectCallback): boolean {
  const host = String(options.host ?? options.hostname ?? '').replace(/^\[|\]$/g, '');
  if (!family(host) || !isRefusedHost(host)) return false;
  onRefuse();
  process.nextTick(() => callback?.(new OutboundRefusedError(), undefined as never));
  return true;
}

class GuardedHttpAgent extends http.Agent {
  private readonly onRefuse: () => void;
  constructor(options: http.AgentOptions, onRefuse: () => void) {
    super(options);
    this.onRefuse = onRefuse;
  }
  override createConnection(options: http.ClientRequestArgs, callback?: ConnectCallback): Duplex | null | undefined {
    return refusedLiteral(options, this.onRefuse, callback) ? undefined : super.createConnection(options, callback);
  }
}

class GuardedHttpsAgent extends https.Agent {
  private readonly onRefuse: () => void;
  private readonly onCertificate: (failure: CertificateFailure) => void;
  constructor(options: https.AgentOptions, onRefuse: () => void, onCertificate: (failure: CertificateFailure) => void) {
    super(options);
    this.onRefuse = onRefuse;
    this.onCertificate = onCertificate;
  }
  override createConnection(options: https.RequestOptions & { servername?: string }, callback?: ConnectCallback): Duplex | null | undefined {
    if (refusedLiteral(options, this.onRefuse, callback)) return undefined;
    const socket = super.createConnection(options, callback);
    // Seen here, where the host is known, because the SDK's own error may not say it was a certificate (MSAL).
    socket?.on('error', (err: NodeJS.ErrnoException) => {
      if (!isCertificateCode(err.code)) return;
      const host = String(options.servername || options.host || options.hostname || '');
      const named = isIP(host) === 6 && !host.startsWith('[') ? `[${host}]` : host;
      this.onCertificate({ host: Number(options.port ?? 443) === 443 ? named : `${named}:${options.port}`, code: err.code });
    });
    return socket;
  }
}

/** Whether an SDK error (or anything in its cause chain) is a connection this guard refused. */
export function isOutboundRefusal(err: unknown): boolean {
  return !!inChain(err, (e) => e.code === OUTBOUND_REFUSED_CODE || e instanceof OutboundRefusedError || String(e.message ?? '').includes(OUTBOUND_REFUSED_CODE));
}

/** The TLS certificate failure in an SDK error's cause chain, if any (without the host: the error does not say it). */
export function certificateFailureIn(err: unknown): CertificateFailure | undefined {
  const found = inChain(err, (e) => isCertificateCode(e.code));
  return found ? { code: found.code as string } : undefined;
}

/** Node and TLS failures below HTTP: the endpoint was not reached, or did not speak HTTP. */
const NETWORK_CODE = /^(E(CONN(REFUSED|RESET|ABORTED)|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN|TIMEDOUT|PIPE|PROTO)|HPE_\w+|UND_ERR_\w+|ERR_(TLS|SSL)_\w+|CERT_\w+|UNABLE_TO_\w+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_STREAM_PREMATURE_CLOSE|REQUEST_SEND_ERROR|ABORT_ERR)$/;
const NETWORK_TEXT = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|HPE_\w+)\b|socket hang up|network_error|Parse Error|self[- ]signed certificate|unable to verify the first certificate|certificate has expired|does not match certificate|deadline exceeded|timed? ?out/i;

/**
 * Whether an SDK error is a failure to reach or talk to the endpoint (timeouts included: the SDKs' own deadlines,
 * such as gax's, race ours), as opposed to an answer from it.
 */
export function isNetworkFailure(err: unknown): boolean {
  return !!inChain(err, (e) => (typeof e.code === 'string' && NETWORK_CODE.test(e.code)) || e.name === 'TimeoutError' || NETWORK_TEXT.test(String(e.message ?? '')));
}

type ErrorLike = { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; innerError?: unknown; error?: unknown };

/** The first error in `err`'s chain (causes and the SDKs' own wrappers) that passes `test`. */
function inChain(err: unknown, test: (e: ErrorLike) => boolean, depth = 0): ErrorLike | undefined {
  if (!err || typeof err !== 'object' || depth > 6) return undefined;
  const e = err as ErrorLike;
  if (test(e)) return e;
  for (const next of [e.cause, e.originalError, e.innerError, e.error]) {
    const found = next !== err ? inChain(next, test, depth + 1) : undefined;
    if (found) return found;
  }
  return undefined;
}
