import type Router from '@koa/router';
import type Koa from 'koa';
import type { z } from 'zod';
import type { ApiState } from './context';
import { requireScope, type RouteScope } from './middleware/auth';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * One route's declaration: what the scope check, the OpenAPI document and the
 * route walk tests read. The schemas are the ones the handler validates with.
 */
export interface RouteSpec {
  method: Method;
  /** Full path under `/v1` in router syntax (`/sessions/:id`). */
  path: string;
  scope: RouteScope;
  summary?: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /** The body is a file upload (multipart or raw), not JSON. */
  upload?: boolean;
  /** The response is a Server-Sent Events stream. */
  sse?: boolean;
}

const registry = new WeakMap<Router<ApiState>, RouteSpec[]>();

/** The routes declared on `router` with {@link route}, in declaration order. */
export function specsOf(router: Router<ApiState>): RouteSpec[] {
  return registry.get(router) ?? [];
}

/**
 * Declare and register a route: the scope check runs first, then the handler.
 * `spec.path` is relative to the router's prefix, as in `router.get(path, …)`.
 */
export function route(
  router: Router<ApiState>,
  spec: Omit<RouteSpec, 'path'> & { path: string },
  handler: Koa.Middleware<ApiState>,
): void {
  router[spec.method](spec.path, requireScope(spec.scope), handler);
  const prefix = (router.opts as { prefix?: string }).prefix ?? '';
  const full = `${prefix}${spec.path}`.replace(/(.)\/$/, '$1');
  let list = registry.get(router);
  if (!list) registry.set(router, (list = []));
  list.push({ ...spec, path: full });
}
