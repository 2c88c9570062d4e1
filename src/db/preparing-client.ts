import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Distinct statement texts a process prepares; beyond this they run unnamed,
 * which bounds what each server connection keeps (the texts are our own
 * constants, so the bound is a guard, not a limit reached).
 */
const MAX_PREPARED = 1000;
const names = new Map<string, string>();

function baseName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_PREPARED) {
    name = `rv${createHash('sha1').update(text).digest('base64url').slice(0, 22)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Errors after which this connection's prepared statements cannot be trusted:
 * a statement's result columns changed under it (a migration added a column
 * to a table it reads with `select *`; it fails every time until prepared
 * again), or the server no longer has it (someone ran `DEALLOCATE ALL`).
 */
function isStalePrepared(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  return (
    (code === '0A000' && err.message.includes('cached plan must not change result type')) ||
    code === '26000'
  );
}

/** Statements that drop every prepared statement of the session. */
const DROPS_PREPARED = /^\s*(discard\s+all|deallocate\s+(prepare\s+)?all)\s*;?\s*$/i;

type Query = (this: pg.Client, ...args: unknown[]) => Promise<pg.QueryResult>;
type Callback = (err: Error | null, result?: pg.QueryResult) => void;

/**
 * A pg client that prepares each parameterised statement once per connection
 * (a named statement keyed by its text), as postgres.js and pgx do by
 * default. Postgres then skips parsing and planning on every later run: on the
 * per-turn path (an event batch every 25 ms, a CTE each) planning cost more
 * than executing. Statements without parameters (`begin`, `commit`, `listen`)
 * run as they are.
 *
 * A migration that changes a table under a running process makes its prepared
 * reads of that table fail, and `DISCARD ALL` / `DEALLOCATE ALL` drop them
 * all; the client then prepares every statement afresh (new names), and runs
 * a failed one again unless it was in a transaction, which has failed and is
 * its caller's to retry.
 */
export class PreparingClient extends pg.Client {
  /** Bumped when prepared plans went stale; part of every name. */
  generation = 0;
  /** Transaction status from the server's last ReadyForQuery: `I` outside one. */
  transactionStatus = 'I';

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const connection = (this as unknown as { connection: pg.Connection }).connection;
    connection.on('readyForQuery', (msg: { status?: string }) => {
      this.transactionStatus = msg.status ?? 'I';
    });
  }
}

PreparingClient.prototype.query = function (this: PreparingClient, ...args: unknown[]) {
  // Looked up per call, so a wrapper installed on pg.Client later (the profiler's) still runs.
  const parent = Object.getPrototypeOf(PreparingClient.prototype) as { query: Query };
  const query = parent.query;
  const [text, values, callback] = args;
  const prepared = typeof text === 'string' && Array.isArray(values) && values.length > 0;
  const name = prepared ? baseName(text) : undefined;
  if (!name) {
    // pg would still take the dropped statements for prepared: use new names from now on.
    if (typeof text === 'string' && DROPS_PREPARED.test(text)) this.generation++;
    return query.apply(this, args);
  }
  const outsideTransaction = this.transactionStatus === 'I';
  const run = () =>
    query.call(this, {
      name: this.generation ? `${name}_${this.generation}` : name,
      text,
      values,
    });
  const result = run().catch((err: unknown) => {
    if (!isStalePrepared(err)) throw err;
    this.generation++;
    if (!outsideTransaction) throw err;
    return run();
  });
  if (typeof callback !== 'function') return result;
  result.then(
    (res) => (callback as Callback)(null, res),
    (err: Error) => (callback as Callback)(err),
  );
  return undefined;
} as typeof pg.Client.prototype.query;
