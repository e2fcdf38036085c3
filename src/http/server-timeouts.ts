/**
 * Connection limits for every listening server (Fastify's defaults leave requestTimeout and the socket idle timeout
 * off, so a client trickling its body, or sending nothing at all, held a connection forever):
 * - headers within SKYLOFT_HTTP_HEADERS_TIMEOUT (default 20 s; slow-loris), checked every quarter of it (at most
 *   every 5 s; Node's own check runs only every 30 s);
 * - the whole request within SKYLOFT_HTTP_REQUEST_TIMEOUT (default 2 m: a 64 MiB state at ~0.5 MB/s), which is
 *   also the limit of a socket on which nothing moves either way;
 * - an idle keep-alive connection is closed after 72 s (longer than the usual 60 s of load balancers, so they
 *   close first and never reuse a connection Skyloft is closing).
 */
export function serverTimeouts(http: { headersTimeoutMs: number; requestTimeoutMs: number }) {
  return {
    connectionTimeout: http.requestTimeoutMs,
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: 72_000,
    http: {
      headersTimeout: http.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(http.headersTimeoutMs / 4))),
    },
  };
}
