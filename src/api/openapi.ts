import { z } from 'zod';
import type { RouteSpec } from './route-spec';

type JsonSchema = Record<string, unknown>;

/** JSON Schema of a request schema as clients send it (before coercion and defaults). */
function schemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  return rest;
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'type', 'details', 'request_id'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        type: { type: 'string' },
        details: { type: 'object' },
        request_id: { type: ['string', 'null'] },
      },
    },
  },
};

function operation(spec: RouteSpec & { root?: boolean }): JsonSchema {
  const parameters: JsonSchema[] = [...spec.path.matchAll(/:(\w+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (spec.query) {
    const query = schemaOf(spec.query) as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      parameters.push({
        name,
        in: 'query',
        required: query.required?.includes(name) ?? false,
        schema,
      });
    }
  }
  const op: JsonSchema = {
    operationId: `${spec.method}${spec.path.replace(/[:/{}-](\w)?/g, (_, c?: string) => (c ?? '').toUpperCase())}`,
    summary: spec.summary ?? `${spec.method.toUpperCase()} ${spec.path}`,
    'x-scope': spec.scope,
    parameters,
    responses: {
      [spec.method === 'post' ? '2XX' : '200']: {
        description: 'success',
        content: spec.sse
          ? { 'text/event-stream': {}, 'application/json': {} }
          : { 'application/json': {} },
      },
      default: {
        description: 'an error in the contract shape',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    },
  };
  if (spec.scope === 'public') op.security = [];
  if (spec.upload) {
    op.requestBody = {
      required: true,
      content: {
        'multipart/form-data': {
          schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } },
        },
        'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      },
    };
  } else if (spec.body) {
    op.requestBody = {
      required: true,
      content: { 'application/json': { schema: schemaOf(spec.body) } },
    };
  }
  return op;
}

/**
 * The OpenAPI 3.1 document of every declared route, generated from the zod
 * schemas the routes validate with. `v1` specs are served under `/v1` (and
 * `/api/v1`); `root` specs (health, metrics) at the root.
 */
export function buildOpenApi(input: {
  v1: RouteSpec[];
  root: RouteSpec[];
  version: string;
}): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const add = (spec: RouteSpec, base: string) => {
    const path = `${base}${spec.path}`.replace(/:(\w+)/g, '{$1}');
    (paths[path] ??= {})[spec.method] = operation(spec);
  };
  for (const spec of input.root) add(spec, '');
  for (const spec of input.v1) add(spec, '/v1');
  return {
    openapi: '3.1.0',
    info: { title: 'reverie', version: input.version },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'API key (rv_…), JWT or ADMIN_TOKEN',
        },
      },
      schemas: { Error: ERROR_SCHEMA },
    },
    paths,
  };
}
