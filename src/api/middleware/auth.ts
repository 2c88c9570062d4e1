import type Koa from 'koa';
import type { Authenticator } from '../../auth/authenticator';
import { hasScope, type Principal } from '../../auth/principal';
import { AppError } from '../../errors';

export type { Principal } from '../../auth/principal';

/**
 * Resolve the caller from `Authorization: Bearer <key | jwt | ADMIN_TOKEN>`
 * (API.md "Identity and headers"), or `X-Api-Key: <key>` as LangGraph clients
 * send it. A presented credential that is not valid is always 401, never a
 * fall-back to anonymous.
 */
export function authenticate(authenticator: Authenticator) {
  return async function authenticateMiddleware(ctx: Koa.Context, next: Koa.Next) {
    ctx.state.principal = await authenticator.authenticate({
      authorization: ctx.get('Authorization') || bearerOf(ctx.get('X-Api-Key')),
      tenantHeader: ctx.get('X-Tenant-Id'),
      ip: ctx.ip,
    });
    await next();
  };
}

function bearerOf(apiKey: string): string {
  return apiKey ? `Bearer ${apiKey}` : '';
}

/** A route's declared scope; `public` routes need none (they run before authentication). */
export type RouteScope = 'chat' | 'files' | 'memories' | 'dreaming' | 'admin' | 'public';

/** The scope-checking middleware, marked with its scope so tests can find routes without one. */
export type ScopeMiddleware = Koa.Middleware & { scope: RouteScope };

/**
 * 403 `forbidden` unless the caller holds `scope` (API.md "Errors"). The
 * returned middleware carries `scope`, which the route walk test reads.
 */
export function requireScope(scope: RouteScope): ScopeMiddleware {
  const middleware = async function requireScopeMiddleware(ctx: Koa.Context, next: Koa.Next) {
    if (scope !== 'public' && !hasScope(ctx.state.principal as Principal, scope)) {
      throw new AppError(403, 'forbidden', `this key lacks the "${scope}" scope`, {
        required_scope: scope,
      });
    }
    await next();
  };
  return Object.assign(middleware, { scope });
}
