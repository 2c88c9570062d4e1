/**
 * Canned answers the simulator gives to structured (JSON) model calls.
 *
 * The simulator is a provider, the bottom layer: it cannot know the prompts of
 * memory, dreaming or suggestions. The composition roots hand it responders
 * instead (src/scripted-responders.ts), each recognising its own prompts.
 */

/** What a responder sees of a chat request. */
export interface ScriptedRequest {
  /** The text of the system and developer messages, joined by newlines. */
  system: string;
  /** The first user message's text ('' when there is none). */
  firstUser: string;
  /** The last user message's text ('' when there is none). */
  lastUser: string;
}

/** A canned answer: sent as one non-streaming completion whose content is `value` as JSON. */
export interface ScriptedAnswer {
  value: object;
  /**
   * Token delays to "think" before answering; unset or 0 answers at once.
   * The wait honours the request's abort signal.
   */
  thinkTokens?: number;
}

/**
 * Recognises the requests it scripts (usually by a marker in the system
 * prompt) and answers them; returns undefined for every other request.
 * Must be a pure function of the request, so replays see the same answers.
 */
export type ScriptedResponder = (request: ScriptedRequest) => ScriptedAnswer | undefined;
