/** Characters Postgres jsonb refuses: U+0000 and unpaired surrogate halves (`u` mode sees pairs whole). */
// eslint-disable-next-line no-control-regex -- matching U+0000 is the point
const UNSTORABLE = /\u0000|\p{Surrogate}/gu;

/**
 * `JSON.stringify(value)` that Postgres accepts as jsonb. Event data carries
 * model output, which may hold what jsonb refuses (a provider's `\u0000`, or
 * half of a surrogate pair cut by a chunker); those characters become U+FFFD
 * rather than failing the whole batch and, with it, the turn.
 */
export function storableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'string' ? v.replace(UNSTORABLE, '\uFFFD') : v,
  );
}
