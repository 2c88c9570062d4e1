import type Koa from 'koa';
import { AppError, InvalidRequestError, PayloadTooLargeError } from '../../errors';

/**
 * The one error path: first in the chain, it renders every failure in the
 * contract's shape and re-emits it to `app.on('error')` for logging.
 * Unknown errors become 500 `internal` with no details.
 */
export function errorHandler(maxBodyBytes: number) {
  return async function errorHandlerMiddleware(ctx: Koa.Context, next: Koa.Next) {
    try {
      await next();
      // Statuses set without a body (no route, the router's 405/501) get the contract shape too.
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404)
          throw new AppError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
        if (ctx.status === 405) {
          throw new AppError(
            405,
            'method_not_allowed',
            `${ctx.method} is not allowed on ${ctx.path}`,
            {
              allowed: ctx.response.get('Allow').split(/,\s*/).filter(Boolean),
            },
          );
        }
        if (ctx.status === 501)
          throw new AppError(501, 'not_implemented', `${ctx.method} is not supported`, undefined, {
            expose: true,
          });
      }
    } catch (raw) {
      const err = toAppError(raw, maxBodyBytes);
      if (ctx.headerSent || !ctx.writable) {
        ctx.app.emit('error', raw, ctx);
        return;
      }
      ctx.status = err.status;
      const retryAfter = err.details?.retry_after;
      if (
        err.status === 429 &&
        (typeof retryAfter === 'number' || typeof retryAfter === 'string')
      ) {
        ctx.set('Retry-After', String(retryAfter));
      }
      ctx.body = {
        error: {
          code: err.code,
          message: err.expose ? err.message : 'internal error',
          type: err.type,
          details: err.expose ? (err.details ?? {}) : {},
          request_id: (ctx.state as { requestId?: string }).requestId ?? null,
        },
      };
      if (err.status >= 500) ctx.app.emit('error', raw, ctx);
    }
  };
}

function toAppError(raw: unknown, maxBodyBytes: number): AppError {
  if (raw instanceof AppError) return raw;
  const e = raw as { status?: number; type?: string; message?: string };
  // Errors from the body parser (raw-body / co-body) carry status and type.
  if (e?.status === 413 || e?.type === 'entity.too.large')
    return new PayloadTooLargeError(maxBodyBytes);
  if (
    e?.type === 'entity.parse.failed' ||
    (e?.status === 400 && /JSON|json/.test(e.message ?? ''))
  ) {
    return new InvalidRequestError('malformed JSON body');
  }
  if (e?.status === 415 || e?.type === 'encoding.unsupported') {
    return new AppError(415, 'unsupported_media_type', e.message ?? 'unsupported media type');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new AppError(
      e.status,
      e.status === 404 ? 'not_found' : 'invalid_request',
      e.message ?? 'bad request',
    );
  }
  return new AppError(500, 'internal', 'internal error', undefined, { cause: raw, expose: false });
}
