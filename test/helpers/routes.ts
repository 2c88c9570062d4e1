import type Router from '@koa/router';
import { apRouters, v1Routers } from '../../src/api/app';
import type { ApiDeps, ApiState } from '../../src/api/context';
import { healthRouter } from '../../src/api/routes/health';
import { devRouter } from '../../src/api/routes/dev';
import { openapiRouter } from '../../src/api/routes/openapi';
import { specsOf, type RouteSpec } from '../../src/api/route-spec';
import type { Config } from '../../src/config';

/** A route as the router registered it: method and full path under `/v1` (or the root). */
export interface RegisteredRoute {
  method: string;
  path: string;
  /** The scope the route's first middleware checks, if it has that middleware. */
  scope: string | undefined;
  router: string;
  /** Served at the root (health, `/ap`), not under `/v1`. */
  root: boolean;
}

/** Every router the app mounts, built with deps that routers only keep for later. */
export function mountedRouters(
  config: Config,
): { name: string; router: Router<ApiState>; root: boolean }[] {
  const deps = { config } as unknown as ApiDeps;
  return [
    { name: 'health', router: healthRouter(deps), root: true },
    { name: 'dev', router: devRouter(deps), root: false },
    { name: 'openapi', router: openapiRouter([], []), root: false },
    ...v1Routers(deps).map((router, i) => ({ name: `v1[${i}]`, router, root: false })),
    ...apRouters(deps).map((router, i) => ({ name: `ap[${i}]`, router, root: true })),
  ];
}

/** Every route in the routers' own stacks (what actually serves), whatever was declared. */
export function registeredRoutes(config: Config): RegisteredRoute[] {
  const out: RegisteredRoute[] = [];
  for (const { name, router, root } of mountedRouters(config)) {
    for (const layer of router.stack) {
      const first = layer.stack[0] as { scope?: string } | undefined;
      for (const method of layer.methods.filter((m) => m !== 'HEAD')) {
        out.push({
          method: method.toLowerCase(),
          path: String(layer.path).replace(/(.)\/$/, '$1'),
          scope: first?.scope,
          router: name,
          root,
        });
      }
    }
  }
  return out;
}

/** Every declared route spec (path under `/v1`, or the root for health). */
export function routeSpecs(config: Config): (RouteSpec & { root: boolean })[] {
  return mountedRouters(config).flatMap(({ router, root }) =>
    specsOf(router).map((s) => ({ ...s, root })),
  );
}

/** A concrete URL for a spec: `:id` becomes `id`, `:user`-like params the `user` value. */
export function concretePath(
  spec: { path: string; root: boolean },
  id: string,
  user = 'someone',
): string {
  const path = spec.path.replace(/:(\w+)/g, (_, name: string) =>
    name === 'id' && !spec.path.startsWith('/users') ? id : user,
  );
  return spec.root ? path : `/v1${path}`;
}
