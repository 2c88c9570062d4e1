import { z } from 'zod';

/**
 * The two structured model calls of memory: extract facts from messages, then
 * decide ADD / UPDATE / DELETE / NOOP against similar existing memories. The
 * markers let the built-in simulator recognise them and answer deterministically.
 */

export const EXTRACT_MARKER = '[reverie:extract-memories]';
export const CONSOLIDATE_MARKER = '[reverie:consolidate-memories]';

export const EXTRACT_SYSTEM = `${EXTRACT_MARKER}
You maintain long-term memory about one user. From the conversation (JSON, "messages"), extract durable facts about the user: identity, preferences, plans, relationships, circumstances, decisions.
- One short, self-contained fact per item, in the user's own terms ("I live in Berlin", "My daughter is called Mia").
- Only what the user said about themselves; never the assistant's suggestions, never small talk or questions.
- Nothing that is only true for this conversation.
- Category: one of personal, preference, plan, relationship, work, health, other.
Answer {"facts": [{"text": "...", "category": "..."}]}; {"facts": []} when there is nothing to remember.`;

export const CONSOLIDATE_SYSTEM = `${CONSOLIDATE_MARKER}
You keep one user's memory consistent. You get "existing" memories (id, text) and new "facts" (index, text).
For each fact decide:
- ADD: new information not covered by any existing memory.
- UPDATE: it refines or changes an existing memory; give that "id" and the merged "text".
- DELETE: it contradicts or retracts an existing memory so that memory is no longer true; give that "id".
- NOOP: already covered by an existing memory.
Use only ids from "existing". Answer {"decisions": [{"fact": <index>, "event": "ADD|UPDATE|DELETE|NOOP", "id": "<id or null>", "text": "<text or null>"}]}, one decision per fact.`;

export const CATEGORIES = [
  'personal',
  'preference',
  'plan',
  'relationship',
  'work',
  'health',
  'other',
] as const;

export const ExtractedFacts = z.object({
  facts: z.array(z.object({ text: z.string(), category: z.string().nullish() })).default([]),
});
export type ExtractedFacts = z.infer<typeof ExtractedFacts>;

export const EXTRACT_JSON_SCHEMA = {
  type: 'object',
  properties: {
    facts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          text: { type: 'string' },
          category: { type: 'string', enum: [...CATEGORIES] },
        },
        required: ['text', 'category'],
        additionalProperties: false,
      },
    },
  },
  required: ['facts'],
  additionalProperties: false,
};

export const Decisions = z.object({
  decisions: z
    .array(
      z.object({
        fact: z.coerce.number().int(),
        event: z.string().transform((e) => e.toUpperCase()),
        id: z
          .union([z.string(), z.number()])
          .nullish()
          .transform((v) => (v === null || v === undefined ? null : String(v))),
        text: z.string().nullish(),
      }),
    )
    .default([]),
});
export type Decisions = z.infer<typeof Decisions>;

export const DECISIONS_JSON_SCHEMA = {
  type: 'object',
  properties: {
    decisions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          fact: { type: 'integer' },
          event: { type: 'string', enum: ['ADD', 'UPDATE', 'DELETE', 'NOOP'] },
          id: { type: ['string', 'null'] },
          text: { type: ['string', 'null'] },
        },
        required: ['fact', 'event', 'id', 'text'],
        additionalProperties: false,
      },
    },
  },
  required: ['decisions'],
  additionalProperties: false,
};

/** What the consolidation call is shown: existing memories under short ids (models copy them reliably). */
export interface ConsolidateInput {
  existing: { id: string; text: string }[];
  facts: { index: number; text: string }[];
}
