import { InvalidRequestError } from '../errors';

/** Where in a value a string is not storable text, and why. */
export interface MalformedText {
  /** Path of the offending string (an object key counts as its own field). */
  path: (string | number)[];
  reason: string;
}

const NUL_REASON = 'must not contain the NUL character (U+0000)';
const SURROGATE_REASON = 'must be well-formed Unicode (no unpaired surrogate)';

/**
 * Deepest nesting of objects and arrays a request may hold. Far beyond any
 * real metadata, and far below what JSON.stringify and Postgres' jsonb can
 * recurse through: a deeper value would otherwise fail as a 500 where it is stored.
 */
export const MAX_JSON_DEPTH = 64;
const DEPTH_REASON = `must not nest objects and arrays more than ${MAX_JSON_DEPTH} levels deep`;

/**
 * The first string (value or object key) anywhere in `value` that Postgres
 * cannot store: text and jsonb refuse U+0000, and jsonb refuses the `\uD800`
 * escapes that JSON.stringify writes for unpaired surrogates. Also the first
 * value nested deeper than {@link MAX_JSON_DEPTH}. Iterative, so a deeply
 * nested body cannot overflow the stack here.
 */
export function findMalformedText(value: unknown): MalformedText | undefined {
  // Each node links to its parent instead of copying its path: a deeply
  // nested body costs linear time, and the path is built only on failure.
  interface Node {
    value: unknown;
    key?: string | number;
    parent?: Node;
    depth: number;
  }
  const pathOf = (node: Node | undefined, last?: string): (string | number)[] => {
    const path: (string | number)[] = last === undefined ? [] : [last];
    for (let n = node; n && n.key !== undefined; n = n.parent) path.push(n.key);
    return path.reverse();
  };
  const stack: Node[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const current = node.value;
    if (typeof current === 'string') {
      const reason = textProblem(current);
      if (reason) return { path: pathOf(node), reason };
    } else if (current !== null && typeof current === 'object' && node.depth >= MAX_JSON_DEPTH) {
      return { path: pathOf(node), reason: DEPTH_REASON };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--)
        stack.push({ value: current[i], key: i, parent: node, depth: node.depth + 1 });
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i];
        const reason = textProblem(key);
        if (reason) return { path: pathOf(node, key), reason: `key ${reason}` };
        stack.push({ value: child, key, parent: node, depth: node.depth + 1 });
      }
    }
  }
  return undefined;
}

/**
 * Reject input holding text that cannot be stored, naming the field.
 * @param what how the message names the input, e.g. `session`, `query`, `header X-User-Id`
 * @throws InvalidRequestError (400 `invalid_request`) with the issue in `details`
 */
export function assertStorableText(value: unknown, what: string): void {
  const found = findMalformedText(value);
  if (!found) return;
  const field = found.path.join('.');
  throw new InvalidRequestError(`invalid ${what}${field ? ` at ${field}` : ''}: ${found.reason}`, {
    issues: [{ path: field, message: found.reason, code: 'invalid_string' }],
  });
}

/** In `u` mode a proper pair is one code point, so this matches only unpaired halves. */
const UNPAIRED_SURROGATE = /\p{Surrogate}/u;

function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return NUL_REASON;
  if (UNPAIRED_SURROGATE.test(text)) return SURROGATE_REASON;
  return undefined;
}
