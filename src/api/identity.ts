import { z } from 'zod';
import { InvalidRequestError } from '../errors';
import type { ApiContext } from './context';
import { assertStorableText } from './text-input';

const UserId = z.string().trim().min(1).max(256);
export const Uuid = z.string().uuid();

/**
 * A request header's value ('' when absent), refused with 400 when it holds
 * text Postgres cannot store. Node's HTTP parser already rejects NUL in
 * headers; this keeps every reader on the same rule whatever the transport.
 */
export function headerText(ctx: ApiContext, name: string): string {
  const value = ctx.get(name);
  assertStorableText(value, `header ${name}`);
  return value;
}

/** The end user: `X-User-Id`, else body `user_id` / `user`. */
export function callerUserId(
  ctx: ApiContext,
  body?: { user?: unknown; user_id?: unknown },
): string | null {
  // A JWT fixes its user (`sub`): the caller cannot speak for another.
  const fixed = (ctx.state as Partial<ApiContext['state']>).principal?.userId;
  if (fixed) return fixed;
  const header = headerText(ctx, 'X-User-Id');
  // Body and query values may come from callers that did not go through parseInput.
  assertStorableText(body?.user_id, 'user_id');
  assertStorableText(body?.user, 'user');
  const raw = header || body?.user_id || body?.user;
  if (raw === undefined || raw === null || raw === '') return null;
  const parsed = UserId.safeParse(raw);
  if (!parsed.success)
    throw new InvalidRequestError('user id must be a non-empty string of at most 256 characters');
  return parsed.data;
}

/** `X-Session-Id`, validated as a UUID; undefined when absent. */
export function sessionIdHeader(ctx: ApiContext): string | undefined {
  const raw = headerText(ctx, 'X-Session-Id');
  if (!raw) return undefined;
  if (!Uuid.safeParse(raw).success) throw new InvalidRequestError('X-Session-Id must be a UUID');
  return raw.toLowerCase();
}

/**
 * A path id that must be a UUID (a malformed id is 400, per the contract).
 * @param name how the message names it, e.g. `session id`
 * @param path the parameter, reported as the zod issue's path in `details`
 * @throws InvalidRequestError with the zod issues in `details`
 */
export function uuidParam(value: string | undefined, name = 'id', path = 'id'): string {
  const parsed = Uuid.safeParse(value);
  if (!parsed.success) {
    throw new InvalidRequestError(`${name} must be a UUID`, {
      issues: parsed.error.issues.map((i) => ({
        path: [path, ...i.path].join('.'),
        message: i.message,
        code: i.code,
      })),
    });
  }
  return parsed.data.toLowerCase();
}

/** The `:id` path parameter of the matched route (the router types params loosely). */
export function pathId(ctx: ApiContext): string | undefined {
  return (ctx.params as Record<string, string | undefined>).id;
}

export function idempotencyKey(ctx: ApiContext): string | undefined {
  const key = headerText(ctx, 'Idempotency-Key');
  if (!key) return undefined;
  if (key.length > 255)
    throw new InvalidRequestError('Idempotency-Key must be at most 255 characters');
  return key;
}

/** Resume cursor of an SSE GET: `Last-Event-ID` or `?after=`. */
export function resumeCursor(ctx: ApiContext): number | undefined {
  const raw =
    headerText(ctx, 'Last-Event-ID') ||
    (typeof ctx.query.after === 'string' ? ctx.query.after : undefined);
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw))
    throw new InvalidRequestError('Last-Event-ID / after must be a non-negative integer');
  return Number(raw);
}

/** Whether named run events join an OpenAI chunk stream (API.md `X-Stream-Events`). */
export function wantsExtendedEvents(ctx: ApiContext, includeEvents?: boolean): boolean {
  const header = headerText(ctx, 'X-Stream-Events').toLowerCase();
  if (header === 'extended') return true;
  if (header === 'none') return false;
  if (header) throw new InvalidRequestError('X-Stream-Events must be "extended" or "none"');
  if (includeEvents !== undefined) return includeEvents;
  return ctx.path.startsWith('/api/v1');
}
