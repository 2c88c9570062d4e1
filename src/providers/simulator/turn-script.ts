/**
 * The scripted demo turn: from the conversation (and the seed), every chunk of
 * the answer and the token delays between them. Pure: the same conversation
 * and seed give the same turn.
 */
import { createHash } from 'node:crypto';
import { contentText, LOOKUP_TOOL, type Conversation } from './conversation';
import type { ActionCard, SimulatorEvent } from './events';
import { SIMULATOR_MODEL_ID } from './model-id';

/** Reasoning and progress frames wait this many token delays: thinking looks slower than typing. */
const STEP_PAUSE = 3;
const TOTAL_STEPS = 3;

interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface Delta {
  role?: 'assistant';
  content?: string | null;
  reasoning_content?: string;
  tool_calls?: ToolCallDelta[];
  reverie_events?: SimulatorEvent[];
}

/** One chunk of the answer and how many token delays to wait before it. */
export interface Step {
  delta: Delta;
  pause: number;
}

export interface Turn {
  hash: string;
  steps: Step[];
  finishReason: 'stop' | 'tool_calls';
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** Script the whole answer to one model call; the same conversation and seed give the same turn. */
export function planTurn(c: Conversation, seed: number): Turn {
  const hash = createHash('sha256')
    .update(`${seed}\n${JSON.stringify(c.messages)}`)
    .digest('hex');
  const steps: Step[] = [{ delta: { role: 'assistant', content: '' }, pause: 0 }];
  const think = (text: string) =>
    steps.push({ delta: { reasoning_content: `${text}\n` }, pause: STEP_PAUSE });
  const emit = (...events: SimulatorEvent[]) =>
    steps.push({ delta: { reverie_events: events }, pause: STEP_PAUSE });
  const progress = (
    step: number,
    label: string,
    status: 'in_progress' | 'completed',
  ): SimulatorEvent => ({
    type: 'progress',
    data: { step, total_steps: TOTAL_STEPS, label, status },
  });

  const firstCall = c.lastRole === 'user';
  if (firstCall && c.userTurns === 1)
    emit({ type: 'title', data: { title: titleFrom(c.firstUser) } });

  if (firstCall && c.sessionId && c.canLookup) {
    emit(progress(1, 'Reading your message', 'in_progress'));
    think(
      `The user wrote ${wordCount(c.lastUser)} words in turn ${c.userTurns} of this conversation.`,
    );
    think(`The system prompt names session ${c.sessionId}, so I will look it up before answering.`);
    emit(
      progress(1, 'Reading your message', 'completed'),
      progress(2, 'Looking up context', 'in_progress'),
    );
    const args = JSON.stringify({ id: c.sessionId });
    const callId = `call_sim_${hash.slice(0, 12)}`;
    steps.push({
      delta: {
        tool_calls: [
          {
            index: 0,
            id: callId,
            type: 'function',
            function: { name: LOOKUP_TOOL, arguments: '' },
          },
        ],
      },
      pause: 1,
    });
    for (const piece of thirds(args))
      steps.push({
        delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] },
        pause: 1,
      });
    return finishTurn(c, hash, steps, 'tool_calls');
  }

  if (c.toolResult) {
    think(`The lookup of ${c.toolResult.id} returned ${c.toolResult.content.length} characters.`);
    think('That is enough context; I will write the answer in markdown.');
    emit(progress(2, 'Looking up context', 'completed'));
  } else {
    emit(progress(1, 'Reading your message', 'in_progress'));
    think(
      `The user wrote ${wordCount(c.lastUser)} words in turn ${c.userTurns} of this conversation.`,
    );
    think('No lookup is needed, so I can answer straight away.');
    think('A heading, a list and a code block will show how markdown streams.');
    emit(
      progress(1, 'Reading your message', 'completed'),
      progress(2, 'Gathering context', 'completed'),
    );
  }

  emit(progress(3, 'Writing the answer', 'in_progress'));
  for (const content of chunkText(answerMarkdown(c))) steps.push({ delta: { content }, pause: 1 });
  emit(progress(3, 'Writing the answer', 'completed'));
  emit({
    type: 'metadata',
    data: {
      confidence: 0.8 + (parseInt(hash.slice(0, 4), 16) % 20) / 100,
      sources: c.toolResult ? [`${LOOKUP_TOOL}:${c.toolResult.id}`] : [],
      model: SIMULATOR_MODEL_ID,
      turn: c.userTurns,
    },
  });
  emit({ type: 'action_request', data: { card: feedbackCard(hash) } });
  return finishTurn(c, hash, steps, 'stop');
}

function finishTurn(
  c: Conversation,
  hash: string,
  steps: Step[],
  finishReason: Turn['finishReason'],
): Turn {
  const promptChars = c.messages.reduce(
    (n, m) =>
      n + contentText(m.content).length + (m.tool_calls ? JSON.stringify(m.tool_calls).length : 0),
    0,
  );
  const completionChars = steps.reduce(
    (n, { delta }) =>
      n +
      (delta.content ?? '').length +
      (delta.reasoning_content ?? '').length +
      (delta.tool_calls?.[0]?.function.arguments.length ?? 0),
    0,
  );
  const prompt_tokens = Math.ceil(promptChars / 4);
  const completion_tokens = Math.ceil(completionChars / 4);
  return {
    hash,
    steps,
    finishReason,
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  };
}

function answerMarkdown(c: Conversation): string {
  const lines = ['## Simulated answer', '', `You said: "${c.lastUser}"`, ''];
  if (c.toolResult) {
    const excerpt = c.toolResult.content.replace(/\s+/g, ' ').trim().slice(0, 80);
    lines.push(
      `I looked up \`${c.toolResult.id}\` with the \`${LOOKUP_TOOL}\` tool and got back ${c.toolResult.content.length} characters: "${excerpt}".`,
      '',
    );
  }
  lines.push(
    "This reply comes from reverie's built-in **simulator** model, so every event type shows up:",
    '',
    '- **Reasoning** streamed before the answer',
    '- **Progress** for each step of the turn',
    '- **Tool calls** that run durably as activities',
    '- **Metadata** and an **action request** card after the text',
    '',
    '```ts',
    "const stream = await client.chat.completions.create({ model: 'simulator', messages, stream: true });",
    "for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '');",
    '```',
    '',
    `This is turn ${c.userTurns} of the conversation.`,
  );
  if (c.lastUser.includes('[simulate:long]')) {
    lines.push('', '### More detail', '');
    for (let i = 1; i <= 45; i++) lines.push(`${i}. Detail line ${i} of the long answer.`);
  }
  return lines.join('\n');
}

function feedbackCard(hash: string): ActionCard {
  return {
    id: `feedback-${hash.slice(0, 8)}`,
    title: 'Was this helpful?',
    description: 'The simulator always asks; a real agent asks when it needs a decision.',
    actions: [
      { id: 'helpful', label: 'Yes', style: 'primary' },
      { id: 'not_helpful', label: 'No', style: 'secondary' },
    ],
  };
}

function titleFrom(message: string): string {
  const words = message
    .replace(/\[simulate:[a-z]+\]/g, ' ')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 6);
  if (words.length === 0) return 'New conversation';
  const title = words.join(' ').replace(/[.,;:!?]+$/, '');
  return title.charAt(0).toUpperCase() + title.slice(1);
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Two words (with their trailing space) per chunk, like a fast tokenizer; joins back to `text` exactly. */
function chunkText(text: string): string[] {
  const tokens = text.match(/\S+\s*|\s+/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < tokens.length; i += 2) chunks.push(tokens.slice(i, i + 2).join(''));
  return chunks;
}

/** Real providers spread tool arguments over several deltas; clients must concatenate them. */
function thirds(text: string): string[] {
  const size = Math.max(1, Math.ceil(text.length / 3));
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}
