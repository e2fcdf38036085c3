import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { publicScope } from './auth.ts';

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
    transform: jsonSchemaTransform,
  });
  // Its own scope, so its routes are declared public without the plugin knowing (see registerAuth).
  await app.register(async (scope) => {
    publicScope(scope);
    await scope.register(swaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
}
