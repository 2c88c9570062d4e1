import type { z } from 'zod';
import { InvalidRequestError } from '../errors';

/** Parse with zod or throw 400 `invalid_request` carrying the issues in `details`. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what = 'request'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first?.path.length ? ` at ${first.path.join('.')}` : '';
    throw new InvalidRequestError(`invalid ${what}${where}: ${first?.message ?? 'invalid'}`, {
      issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })),
    });
  }
  return result.data;
}

/** A keyset cursor for `(created_at, id)` pagination, opaque to clients. */
export const cursor = {
  encode(row: { created_at: Date; id: string }): string {
    return Buffer.from(JSON.stringify([row.created_at.toISOString(), row.id])).toString('base64url');
  },
  decode(value: string | undefined): { createdAt: string; id: string } | undefined {
    if (!value) return undefined;
    try {
      const [createdAt, id] = JSON.parse(Buffer.from(value, 'base64url').toString()) as [string, string];
      if (typeof createdAt !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(createdAt))) throw new Error();
      return { createdAt, id };
    } catch {
      throw new InvalidRequestError('invalid cursor');
    }
  },
};

/** The parsed JSON body (set by the body parser), or undefined. */
export function requestBody(ctx: { request: unknown }): unknown {
  return (ctx.request as { body?: unknown }).body;
}
