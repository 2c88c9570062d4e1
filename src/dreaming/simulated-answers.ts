/**
 * Deterministic answers of the built-in simulator to the dreaming prompts, so
 * dreaming runs end to end with no model: moments from the most frequent words
 * of each episode, facts from "I …" sentences, a profile from the moments'
 * topics and entities. Same input, same answer.
 */
import { MOMENTS_MARKER, PROFILE_MARKER } from './prompts';

/** The JSON answer for a dreaming prompt, or undefined when `system` is not one. */
export function simulatedDreamAnswer(system: string, user: string): object | undefined {
  if (system.includes(MOMENTS_MARKER)) return simulateMoments(readJson(user));
  if (system.includes(PROFILE_MARKER)) return simulateProfile(readJson(user));
  return undefined;
}

function readJson(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

interface PromptEpisode {
  episode: string;
  messages: { id: string; role: string; content: string }[];
}

const STOPWORDS = new Set(
  `about above after again against also because been before being below between both could does doing down during each
  from further have having here hers herself himself into itself just more most myself once only other ourselves over
  same should some such than that their theirs them themselves then there these they this those through under until
  very what when where which while whom will with would your yours yourself yourselves please thanks thank hello okay
  really want need like know think make could maybe something anything user assistant simulated answer said`.split(
    /\s+/,
  ),
);

function words(text: string): string[] {
  return (text.toLowerCase().match(/[a-z][a-z0-9-]{3,}/g) ?? []).filter((w) => !STOPWORDS.has(w));
}

function top(counts: Map<string, number>, n: number): string[] {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([w]) => w);
}

function count(items: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

function entitiesOf(text: string): string[] {
  const found: string[] = [];
  for (const sentence of text.split(/[.!?\n]+/)) {
    const tokens = sentence.trim().split(/\s+/);
    // The first word of a sentence is capitalised anyway.
    for (const token of tokens.slice(1)) {
      const word = token.replace(/[^A-Za-z0-9.+#-]/g, '').replace(/[.]+$/, '');
      if (/^[A-Z][A-Za-z0-9.+#-]{2,}$/.test(word) && !STOPWORDS.has(word.toLowerCase()))
        found.push(word);
    }
  }
  return found;
}

const FACT =
  /\bI(?:'m| am| work| use| prefer| like| love| live| want to| need to| build| study)\b[^.!?\n]{3,100}/g;

function simulateMoments(input: Record<string, unknown>) {
  const episodes = Array.isArray(input.episodes) ? (input.episodes as PromptEpisode[]) : [];
  const moments = [];
  const facts: { content: string; category: string; episode: string }[] = [];
  const seen = new Set<string>();
  for (const e of episodes) {
    const userText = e.messages
      .filter((m) => m.role === 'user')
      .map((m) => m.content)
      .join('\n');
    const text = userText || e.messages.map((m) => m.content).join('\n');
    const topics = top(count(words(text)), 3);
    const entities = top(count(entitiesOf(text)), 5);
    const first = (e.messages.find((m) => m.role === 'user')?.content ?? '')
      .replace(/\s+/g, ' ')
      .trim();
    const title = topics.length ? topics.map(capitalise).join(', ') : 'Conversation';
    moments.push({
      episode: e.episode,
      title,
      summary: `The user talked about ${topics.join(', ') || 'various things'} over ${e.messages.length} messages, starting with "${first.slice(0, 120)}".`,
      topics,
      entities,
    });
    for (const match of userText.match(FACT) ?? []) {
      const content = `User said: ${match.trim()}`;
      const key = content.toLowerCase();
      if (seen.has(key) || facts.length >= 10) continue;
      seen.add(key);
      facts.push({
        content,
        category: /prefer|like|love/.test(match) ? 'preference' : 'personal',
        episode: e.episode,
      });
    }
  }
  return { moments, facts };
}

interface PromptMoment {
  id: string;
  title: string;
  topics: string[];
  entities: string[];
}

function simulateProfile(input: Record<string, unknown>) {
  const moments = Array.isArray(input.moments) ? (input.moments as PromptMoment[]) : [];
  const memories = Array.isArray(input.memories)
    ? (input.memories as { id: string; content: string }[])
    : [];
  const evidence = (pick: (m: PromptMoment) => string[], value: string) =>
    moments
      .filter((m) => pick(m).includes(value))
      .slice(0, 5)
      .map((m) => m.id);
  const entityCounts = count(moments.flatMap((m) => m.entities));
  const topicCounts = count(moments.flatMap((m) => m.topics));
  const projects = top(entityCounts, 3);
  const interests = top(topicCounts, 5);
  return {
    summary: interests.length
      ? `Works on ${projects.join(', ') || 'several things'}; interested in ${interests.join(', ')}.`
      : '',
    current_projects: projects.map((name) => ({
      name,
      description: `Mentioned in ${entityCounts.get(name)} moments`,
      evidence: evidence((m) => m.entities, name),
    })),
    expertise: interests
      .filter((t) => (topicCounts.get(t) ?? 0) >= 2)
      .slice(0, 3)
      .map((area) => ({ area, level: 'intermediate', evidence: evidence((m) => m.topics, area) })),
    interests: interests.map((topic) => ({ topic, evidence: evidence((m) => m.topics, topic) })),
    preferences: memories
      .filter((m) => /prefer|like|love/i.test(m.content))
      .slice(0, 5)
      .map((m) => ({ preference: m.content, evidence: [m.id] })),
    recent_activity: moments.slice(-5).map((m) => ({ summary: m.title, evidence: [m.id] })),
  };
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
