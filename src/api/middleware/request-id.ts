import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Logger } from '../../logger';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's `X-Request-ID` if it is safe to echo, else a new one; set on the response. */
export function assignRequestId(ctx: Koa.Context): string {
  const given = ctx.get('X-Request-ID');
  const id = VALID_REQUEST_ID.test(given) ? given : randomUUID();
  ctx.set('X-Request-ID', id);
  return id;
}

/**
 * Echo `X-Request-ID` (or generate one) and give the request a scoped logger.
 * At debug level each request is logged with its headers (the logger redacts
 * credentials).
 */
export function requestId(log: Logger) {
  return async function requestIdMiddleware(ctx: Koa.Context, next: Koa.Next) {
    const id = assignRequestId(ctx);
    ctx.state.requestId = id;
    // Made on first use: most requests (health checks, reads) never log.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (child ??= log.child({ requestId: id })),
      configurable: true,
      enumerable: true,
    });
    await next();
    if (log.isLevelEnabled('debug')) {
      (ctx.state.log as Logger).debug(
        { req: { method: ctx.method, url: ctx.path, headers: ctx.headers }, status: ctx.status },
        'request',
      );
    }
  };
}
