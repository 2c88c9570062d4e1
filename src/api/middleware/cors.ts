import type Koa from 'koa';

const ALLOW_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'Last-Event-ID',
  'X-Agent-Schema',
  'X-Request-ID',
  'X-Session-Id',
  'X-Stream-Events',
  'X-Tenant-Id',
  'X-User-Id',
  'X-Chat-Is-Audio',
].join(', ');
const EXPOSE_HEADERS = [
  'X-Request-ID',
  'X-Run-Id',
  'X-Session-Id',
  'Location',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
].join(', ');
const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';

/**
 * CORS from `CORS_ORIGINS`: an allowed origin is echoed (never `*` with
 * credentials: callers authenticate with bearer tokens, so credentials are
 * never granted); `*` in the list grants any origin without credentials; with
 * no list (the default) nothing is granted. Preflights (`OPTIONS` with
 * `Access-Control-Request-Method`) are answered here with 204, before
 * authentication, whether or not the origin is granted.
 */
export function cors(origins: string[]) {
  const any = origins.includes('*');
  const allowed = new Set(origins.filter((o) => o !== '*'));
  return async function corsMiddleware(ctx: Koa.Context, next: Koa.Next) {
    const origin = ctx.get('Origin');
    ctx.vary('Origin');
    const granted = origin ? (allowed.has(origin) ? origin : any ? '*' : undefined) : undefined;
    const preflight = ctx.method === 'OPTIONS' && Boolean(ctx.get('Access-Control-Request-Method'));
    if (granted) {
      ctx.set('Access-Control-Allow-Origin', granted);
      ctx.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    }
    if (preflight) {
      if (granted) {
        ctx.set('Access-Control-Allow-Methods', METHODS);
        ctx.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
        ctx.set('Access-Control-Max-Age', '600');
      }
      ctx.status = 204;
      return;
    }
    await next();
  };
}
