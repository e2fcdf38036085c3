import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The little HTTP plumbing the three cloud servers share: a buffered request in, a whole response out. */
export interface Request {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Response {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export type Handler = (req: Request) => Promise<Response>;

export function xml(status: number, body: string, headers: Record<string, string> = {}): Response {
  return { status, headers: { 'content-type': 'text/xml;charset=UTF-8', ...headers }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

/** Wires a handler to a server; a handler that throws answers 500 with the message, so a bug shows in the SDK error. */
export function serve(server: Server, origin: () => string, handler: Handler): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: Request = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', origin()),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      handler(request)
        .catch((err: unknown): Response => ({ status: 500, headers: { 'content-type': 'text/plain' }, body: `emulator bug: ${(err as Error).stack ?? String(err)}` }))
        .then((r) => {
          const body = Buffer.from(r.body, 'utf8');
          res.writeHead(r.status, { ...r.headers, 'content-length': String(body.length) });
          res.end(body);
        })
        .catch(() => res.destroy());
    });
  });
}

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok((server.address() as AddressInfo).port);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((ok) => {
    server.close(() => ok());
    server.closeAllConnections();
  });
}

/** The body of a form (EC2, STS, OAuth token requests). */
export function form(body: string): URLSearchParams {
  return new URLSearchParams(body);
}

export function requestId(): string {
  return crypto.randomUUID();
}
