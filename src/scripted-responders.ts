/**
 * The built-in simulator's canned answers to the domain's structured calls,
 * assembled here (beside the composition roots) because the simulator is a
 * provider and must not import the domain folders that own these prompts.
 * Order matters: the first responder that recognises a request answers it.
 */
import { simulatedDreamAnswer } from './dreaming/simulated-answers';
import { simulateMemoryCall } from './memory/simulated-memory-model';
import type { ScriptedAnswer, ScriptedResponder } from './providers/simulator';
import { simulatedSuggestions } from './suggestions/follow-ups';

/** A dreaming step "thinks" this many token delays before its one-piece answer. */
const DREAM_THINK_TOKENS = 10;

const answer = (value: object | undefined, thinkTokens?: number): ScriptedAnswer | undefined =>
  value ? { value, thinkTokens } : undefined;

/** Dreaming (moments, profile), memory (extract, consolidate), then follow-up suggestions. */
export const SCRIPTED_RESPONDERS: readonly ScriptedResponder[] = [
  // A dreaming prompt carries its input in the first user message.
  ({ system, firstUser }) => answer(simulatedDreamAnswer(system, firstUser), DREAM_THINK_TOKENS),
  ({ system, lastUser }) => answer(simulateMemoryCall(system, lastUser)),
  ({ system, lastUser }) => answer(simulatedSuggestions(system, lastUser)),
];
