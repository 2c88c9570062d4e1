import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Logger } from '../../logger';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echo `X-Request-ID` (or generate one) and give the request a scoped logger. */
export function requestId(log: Logger) {
  return async function requestIdMiddleware(ctx: Koa.Context, next: Koa.Next) {
    const given = ctx.get('X-Request-ID');
    const id = VALID_REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    // Made on first use: most requests (health checks, reads) never log.
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (child ??= log.child({ requestId: id })),
      configurable: true,
      enumerable: true,
    });
    ctx.set('X-Request-ID', id);
    await next();
  };
}
