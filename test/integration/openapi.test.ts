import request from 'supertest';
import { startPlatform, type Platform } from '../helpers/platform';
import { registeredRoutes } from '../helpers/routes';

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      { requestBody?: unknown; parameters?: { name: string; in: string }[]; 'x-scope'?: string }
    >
  >;
};

/** `GET /v1/openapi.json`: OpenAPI 3.1 from the zod schemas that validate requests. */
describe('OpenAPI document', () => {
  let platform: Platform;
  let doc: Doc;

  beforeAll(async () => {
    platform = await startPlatform();
    const res = await request(platform.url).get('/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body as Doc;
  });
  afterAll(() => platform?.close());

  it('is OpenAPI 3.1 and needs no key', () => {
    expect(doc.openapi).toBe('3.1.0');
  });

  it('covers every method and path the routers serve', () => {
    const missing = registeredRoutes(platform.config)
      .map((r) => ({
        method: r.method,
        path: (r.root ? r.path : `/v1${r.path}`).replace(/:(\w+)/g, '{$1}'),
      }))
      .filter((r) => !doc.paths[r.path]?.[r.method])
      .map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
    expect(doc.paths['/health']?.get).toBeDefined();
  });

  it('carries the request schemas the routes validate with', () => {
    const post = doc.paths['/v1/sessions/{id}/messages'].post as {
      requestBody: {
        content: {
          'application/json': {
            schema: { properties: Record<string, unknown>; required: string[] };
          };
        };
      };
      'x-scope': string;
    };
    const schema = post.requestBody.content['application/json'].schema;
    expect(schema.required).toContain('content');
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['content', 'multitask_strategy']),
    );
    expect(post['x-scope']).toBe('chat');
    const list = doc.paths['/v1/sessions'].get;
    expect(list.parameters?.map((p) => p.name)).toEqual(
      expect.arrayContaining(['limit', 'cursor']),
    );
    expect(doc.paths['/v1/admin/api-keys'].post.requestBody).toBeDefined();
    expect(doc.paths['/v1/files'].post.requestBody).toBeDefined();
  });
});
