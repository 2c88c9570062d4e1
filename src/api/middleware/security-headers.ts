import type Koa from 'koa';

/**
 * Headers every response carries, whatever answers it: no MIME sniffing, no
 * framing (clickjacking), no referrer leak. Koa sends no `X-Powered-By`.
 */
export function securityHeaders() {
  return async function securityHeadersMiddleware(ctx: Koa.Context, next: Koa.Next) {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Content-Security-Policy', "frame-ancestors 'none'");
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.remove('X-Powered-By');
    await next();
  };
}
