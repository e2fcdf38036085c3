import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { isConnectionError } from '../../db/connection-errors.ts';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { StateLockedError } from '../../modules/state/index.ts';
import { AppError, RateLimitedError } from '../../shared/errors.ts';

/**
 * The one place errors become HTTP answers: `{error: {code, message, details}, requestId}`, `details` always present
 * (null when there is nothing to add). 5xx answers never carry a stack trace or an internal message; the log has
 * them, under the same request id.
 */
const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'malformed_request' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_json', message: 'Body is empty but Content-Type is application/json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'malformed_json', message: 'Body is not valid JSON' },
};

/** Every error answer is built here (the error handler, the not-found handler, the router's and /metrics' refusals). */
export function sendError(reply: FastifyReply, status: number, code: string, message: string, details: unknown = null) {
  return reply.status(status).send({ error: { code, message, details: details ?? null }, requestId: reply.request.id });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'request';
      const details = err.validation.map((v) => ({
        path: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: v.message ?? 'invalid',
      }));
      const summary = details.map((d) => (d.path === where ? d.message : `${d.path}: ${d.message}`)).join('; ');
      return sendError(reply, 400, 'validation_failed', `Invalid ${where}: ${summary}`, details);
    }
    if (err instanceof StateLockedError) return reply.status(423).send(err.holderInfo);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, 413, 'payload_too_large', `Request body exceeds this route's limit of ${request.routeOptions.bodyLimit} bytes`);
    }
    if (err instanceof AppError) {
      if (err instanceof RateLimitedError) reply.header('retry-after', String(err.retryAfterSeconds));
      if (err.httpStatus >= 500) request.log.error({ err }, err.message);
      const message = err.httpStatus >= 500 && err.code !== 'dependency_unavailable' ? 'Internal error' : err.message;
      return sendError(reply, err.httpStatus, err.code, message, err.httpStatus >= 500 ? undefined : err.details);
    }
    if (err instanceof UniqueConstraintViolationException) {
      // Two requests raced past a service's uniqueness check; the database's unique index decided.
      return sendError(reply, 409, 'conflict', 'A conflicting record was created at the same time; it already exists');
    }
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return sendError(reply, known.status, known.code, known.message ?? err.message);
    if (err instanceof SyntaxError || err.statusCode === 400) {
      return sendError(reply, 400, 'malformed_request', 'Request could not be parsed');
    }
    if (err.statusCode === 413) return sendError(reply, 413, 'payload_too_large', 'Request body is too large');
    if (err.statusCode === 415) return sendError(reply, 415, 'unsupported_media_type', 'Unsupported Content-Type');
    if (isConnectionError(err)) {
      request.log.error({ err }, 'PostgreSQL is unavailable');
      return sendError(reply, 503, 'dependency_unavailable', 'PostgreSQL is unavailable; try again shortly', { dependency: 'postgres' });
    }
    request.log.error({ err }, 'unhandled error');
    return sendError(reply, 500, 'internal_error', 'Internal error');
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
  );
}
