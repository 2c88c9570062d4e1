import { InvalidRequestError } from '../errors';

/** The object kinds of the OpenAI Responses façade and the prefix of their ids. */
const PREFIXES = { response: 'resp_', conversation: 'conv_', item: 'msg_' } as const;
export type ProtocolKind = keyof typeof PREFIXES;

const HEX32 = /^[0-9a-f]{32}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The façade's id of one of our rows: a response is a run, a conversation a
 * session, an item a message (`resp_<uuid without dashes>`, as OpenAI spells them).
 */
export function protocolId(kind: ProtocolKind, uuid: string): string {
  return PREFIXES[kind] + uuid.replace(/-/g, '');
}

/**
 * The row id behind a façade id; the bare UUID is accepted too.
 * @throws InvalidRequestError 400 naming the parameter when it is neither
 */
export function parseProtocolId(kind: ProtocolKind, raw: unknown, param: string): string {
  const value = typeof raw === 'string' ? raw.trim() : '';
  if (UUID.test(value)) return value.toLowerCase();
  const prefix = PREFIXES[kind];
  const hex = value.startsWith(prefix) ? value.slice(prefix.length) : '';
  if (!HEX32.test(hex)) {
    throw new InvalidRequestError(`${param} must be a ${kind} id (${prefix}…)`, {
      issues: [
        {
          path: param,
          message: `expected ${prefix} followed by 32 hex digits`,
          code: 'invalid_format',
        },
      ],
    });
  }
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
