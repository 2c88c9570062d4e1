import type { z } from 'zod';
import type Koa from 'koa';
import { AppError, InvalidRequestError } from '../errors';
import { assertStorableText } from './text-input';

/**
 * Parse with zod or throw 400 `invalid_request` carrying the issues in `details`.
 * Every string in `value` (keys included) must first be storable text: no
 * U+0000, no unpaired surrogate (see {@link assertStorableText}).
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = 'request',
): z.infer<S> {
  // Before zod, on the input as sent: the field is named as the client wrote it.
  assertStorableText(value, what);
  const result = schema.safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first?.path.length ? ` at ${first.path.join('.')}` : '';
    throw new InvalidRequestError(`invalid ${what}${where}: ${first?.message ?? 'invalid'}`, {
      issues: result.error.issues.map((i) => ({
        path: i.path.join('.'),
        message: i.message,
        code: i.code,
      })),
    });
  }
  return result.data;
}

/** A keyset cursor for `(created_at, id)` pagination, opaque to clients. */
export const cursor = {
  encode: (row: { created_at: Date; id: string }): string =>
    Buffer.from(JSON.stringify([row.created_at.toISOString(), row.id])).toString('base64url'),
  decode: (value: string | undefined): { createdAt: string; id: string } | undefined => {
    if (!value) return undefined;
    try {
      const [createdAt, id] = JSON.parse(Buffer.from(value, 'base64url').toString()) as [
        string,
        string,
      ];
      if (
        typeof createdAt !== 'string' ||
        typeof id !== 'string' ||
        Number.isNaN(Date.parse(createdAt))
      )
        throw new Error();
      return { createdAt, id };
    } catch {
      throw new InvalidRequestError('invalid cursor');
    }
  },
};

/**
 * The parsed JSON body (set by the body parser), or undefined when there is none.
 * @throws AppError 415 `unsupported_media_type` for a body that is not JSON
 * (the parser skips it, so it would otherwise read as "no body").
 */
export function requestBody(ctx: { request: Koa.Request }): unknown {
  // `Content-Length: 0` (a POST without a body) counts as no body at all.
  const hasContent = Boolean(ctx.request.get('Transfer-Encoding')) || (ctx.request.length ?? 0) > 0;
  if (hasContent && !ctx.request.is('json')) {
    throw new AppError(
      415,
      'unsupported_media_type',
      'the request body must be JSON (Content-Type: application/json)',
      {
        content_type: ctx.request.type || null,
      },
    );
  }
  return (ctx.request as { body?: unknown }).body;
}

/**
 * A keyset page in the list shape `{object, data, next_cursor}`: `rows` was
 * fetched with `limit + 1`, so an extra row means there is a next page.
 */
export function keysetPage<R, J>(
  rows: R[],
  limit: number,
  toJson: (row: R) => J,
  encode: (row: R) => string,
): { object: 'list'; data: J[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  return {
    object: 'list',
    data: page.map(toJson),
    next_cursor: rows.length > limit ? encode(page[page.length - 1]) : null,
  };
}
