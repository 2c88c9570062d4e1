/**
 * What `POST /v1/memories` stores on its `memory` run (claim check): the
 * workflow carries only the run id, the extraction reads this back.
 */
export interface MemoryRunInput {
  messages?: { role: 'user' | 'assistant' | 'system'; content: string }[];
  text?: string;
  /** Extract facts with the model (default for `messages`); `false` stores `text` as one fact. */
  infer?: boolean;
  metadata?: Record<string, unknown>;
}
