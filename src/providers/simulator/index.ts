/**
 * The built-in `simulator` model: an OpenAI-compatible chat-completions API
 * that runs in-process behind a `fetch` function.
 *
 * The platform hands {@link createSimulatorFetch} to the real `openai` client,
 * so a simulated turn takes exactly the production path (client → SSE stream
 * → provider parsing) without a network or an API key. Each turn is a scripted
 * demo of every reverie event: reasoning, progress, a real `lookup` tool call,
 * streamed markdown, metadata, an action-request card, a title and usage.
 * Events that plain OpenAI chunks cannot carry ride on the chunk delta as
 * `delta.reverie_events`. Structured calls of the domain (memory, dreaming,
 * suggestions) get the canned answers of the responders the composition root
 * passes in.
 *
 * Output is a pure function of the request and the seed (only `created`
 * follows the clock), so tests and workflow replays see the same text twice.
 *
 * Files: simulator-fetch (routes and dispatch), conversation (reading the
 * request), turn-script (the demo turn), responses (SSE frames and bodies),
 * pacing (timers and aborts), scripted-responder (the canned-answer contract).
 */
export { SIMULATOR_MODEL_ID } from './model-id';
export type { ActionCard, SimulatorEvent } from './events';
export type { ScriptedAnswer, ScriptedRequest, ScriptedResponder } from './scripted-responder';
export { createSimulatorFetch, type SimulatorOptions } from './simulator-fetch';
