import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Distinct statement texts a process prepares; beyond this they run unnamed,
 * which bounds what each server connection keeps (the texts are our own
 * constants, so the bound is a guard, not a limit reached).
 */
const MAX_PREPARED = 1000;
const names = new Map<string, string>();

function nameFor(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_PREPARED) {
    name = `rv${createHash('sha1').update(text).digest('base64url').slice(0, 22)}`;
    names.set(text, name);
  }
  return name;
}

type Query = (this: pg.Client, ...args: unknown[]) => unknown;

/**
 * A pg client that prepares each parameterised statement once per connection
 * (a named statement keyed by its text), as postgres.js and pgx do by
 * default. Postgres then skips parsing and planning on every later run: on the
 * per-turn path (an event batch every 25 ms, a CTE each) planning cost more
 * than executing. Statements without parameters (`begin`, `commit`, `listen`)
 * run as they are.
 */
export class PreparingClient extends pg.Client {}

PreparingClient.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  // Looked up per call, so a wrapper installed on pg.Client later (the profiler's) still runs.
  const parent = Object.getPrototypeOf(PreparingClient.prototype) as { query: Query };
  const query = parent.query;
  const [text, values, ...rest] = args;
  if (typeof text === 'string' && Array.isArray(values) && values.length > 0) {
    const name = nameFor(text);
    if (name) return query.call(this, { name, text, values }, ...rest);
  }
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;
