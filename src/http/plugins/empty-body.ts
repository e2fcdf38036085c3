import type { FastifyInstance } from 'fastify';

interface BodySchema {
  safeParse(value: unknown): { success: boolean };
}

/**
 * A request sent without a body (`curl -X POST $SKY/v1/health/check`, with or without a JSON Content-Type) reaches
 * its route as `{}` when the route's body schema accepts `{}`: a body whose fields are all optional may be left out.
 * A route whose body has a required field still answers 400. Decided from each route's own schema, so a new route
 * gets it without asking (test/integration/empty-bodies.test.ts walks every route of the OpenAPI document).
 */
export function registerEmptyBodies(app: FastifyInstance): void {
  const acceptsEmpty = new WeakMap<BodySchema, boolean>();
  app.addHook('preValidation', async (request) => {
    if (request.body !== undefined && request.body !== null) return;
    const schema = request.routeOptions.schema?.body as Partial<BodySchema> | undefined;
    if (typeof schema?.safeParse !== 'function') return; // no body schema: the route reads no body (or a raw one)
    let accepts = acceptsEmpty.get(schema as BodySchema);
    if (accepts === undefined) {
      accepts = schema.safeParse({}).success;
      acceptsEmpty.set(schema as BodySchema, accepts);
    }
    if (accepts) request.body = {};
  });
}
