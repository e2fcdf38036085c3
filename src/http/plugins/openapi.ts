import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { publicScope } from '../../shared/route-scope.ts';

type Operation = { requestBody?: { required?: boolean; content?: Record<string, { schema?: { required?: string[] } }> } };

/** GET /openapi.json (OpenAPI 3, paths with their /v1 prefix) and GET /docs (its UI). */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Skyloft', version: '1', description: 'Self-hosted control plane for AWS, Azure and GCP' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key: sky_ + 36 characters' },
          basic: { type: 'http', scheme: 'basic', description: 'Any username, the API key as password' },
        },
      },
      security: [{ bearer: [] }, { basic: [] }],
    },
    // A public route (config.public: the probes, the docs) needs no key, and the document says so from the same flag
    // the auth gate reads (registerAuth), so the two cannot disagree.
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      return input.route.config?.public === true ? { ...out, schema: { ...out.schema, security: [] } } : out;
    },
    // A body with no required field may be left out (registerEmptyBodies); @fastify/swagger marks every body required.
    transformObject: (document) => {
      const doc = 'openapiObject' in document ? document.openapiObject : document.swaggerObject;
      for (const operations of Object.values(doc.paths ?? {}) as Record<string, Operation>[]) {
        for (const op of Object.values(operations)) {
          const bodies = Object.values(op.requestBody?.content ?? {});
          if (op.requestBody && bodies.every((b) => (b.schema?.required ?? []).length === 0)) op.requestBody.required = false;
        }
      }
      return doc;
    },
  });
  // Its own scope, so its routes are declared public without the plugin knowing (see registerAuth).
  await app.register(async (scope) => {
    publicScope(scope);
    await scope.register(swaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
}
