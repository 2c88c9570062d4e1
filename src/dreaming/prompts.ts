/**
 * The dreaming prompts. Each system prompt starts with a marker the built-in
 * simulator recognises (`[reverie:dream-*]`), and carries a version recorded
 * with every change it produces (provenance).
 */

export const MOMENTS_MARKER = '[reverie:dream-moments]';
export const PROFILE_MARKER = '[reverie:dream-profile]';

export const MOMENTS_PROMPT_VERSION = 'dream-moments/v1';
export const PROFILE_PROMPT_VERSION = 'dream-profile/v1';

export const MOMENTS_SYSTEM = `${MOMENTS_MARKER} ${MOMENTS_PROMPT_VERSION}
You consolidate a user's recent conversations into "moments": one per episode given
(an episode is a stretch of one conversation). For each episode write a short title,
a 1-3 sentence summary of what the user did or wanted, its topics (lowercase keywords)
and its entities (people, projects, products, places, technologies, as named).
Also list durable facts about the user worth remembering (preferences, projects, skills,
circumstances), each as one short third-person sentence, with the episode it comes from.
Skip small talk. Never invent anything the messages do not say.
Answer with JSON only:
{"moments":[{"episode":"e1","title":"...","summary":"...","topics":["..."],"entities":["..."]}],
 "facts":[{"content":"...","category":"preference|project|skill|personal|other","episode":"e1"}]}`;

export const PROFILE_SYSTEM = `${PROFILE_MARKER} ${PROFILE_PROMPT_VERSION}
You maintain a profile of a user from their recent moments, memories and files, and
their previous profile. Keep what still holds, update what changed, drop what is stale.
Every entry cites its evidence: ids of the moments, memories or files given.
Answer with JSON only:
{"summary":"...",
 "current_projects":[{"name":"...","description":"...","evidence":["<id>"]}],
 "expertise":[{"area":"...","level":"beginner|intermediate|expert","evidence":["<id>"]}],
 "interests":[{"topic":"...","evidence":["<id>"]}],
 "preferences":[{"preference":"...","evidence":["<id>"]}],
 "recent_activity":[{"summary":"...","evidence":["<id>"]}]}`;

/** Appended when an answer failed validation; the model gets one more try. */
export function correctionPrompt(problem: string): string {
  return `Your previous answer was not valid: ${problem}. Answer again with JSON only, exactly in the shape asked for.`;
}
