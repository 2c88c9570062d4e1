import type { MessageRow } from '../db/messages';
import type { ChatMessage } from '../providers/stream-chat';
import { countMessageTokens } from './token-count';

/**
 * History compression (remdb's REM LOOKUP idea): the model sees recent
 * messages whole and older long ones as head … tail with a hint naming the
 * message id; the `lookup` tool returns the full text on demand. Then the
 * history is fitted into a token budget.
 */

export interface CompressionOptions {
  /** Model whose tokenizer counts. */
  model: string;
  sessionId: string;
  /** Messages of the running turn: kept whole unless nothing else fits. */
  currentRunId?: string;
  /** The newest messages kept whole unless longer than `recentMaxChars`. */
  recentMessages: number;
  /** Older messages longer than this are shortened to about this length. */
  messageMaxChars: number;
  recentMaxChars: number;
  /** Tokens the history may take. */
  budgetTokens: number;
}

/** How one history message reaches the model. */
export interface HistoryEntryInfo {
  id: string;
  role: MessageRow['role'];
  tokens: number;
  chars: number;
  original_chars: number;
  truncated: boolean;
}

export interface CompressedHistory {
  messages: ChatMessage[];
  entries: HistoryEntryInfo[];
  /** Oldest messages left out to fit the budget. */
  omitted: number;
  tokens: number;
  /** True when even the running turn alone does not fit. */
  overBudget: boolean;
}

/** The hint the model sees where text was cut. */
export function truncationHint(id: string): string {
  return `[... truncated — lookup message ${id} ...]`;
}

/** Messages shortened for the budget's last resort keep at least this much. */
const MINIMAL_CHARS = 120;

interface Entry {
  row: MessageRow;
  message: ChatMessage;
  /** Index of the first entry of this entry's turn (a user message), for whole-turn dropping. */
  tokens: number;
  truncated: boolean;
  chars: number;
  current: boolean;
}

/**
 * Shorten `text` to about `maxChars`: head and tail cut at word boundaries
 * around the lookup hint. Unchanged when it is short enough.
 */
export function shortenText(text: string, id: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const hint = truncationHint(id);
  const room = Math.max(40, maxChars - hint.length - 2);
  const headLength = Math.ceil(room * 0.7);
  const tailLength = room - headLength;
  let head = text.slice(0, headLength);
  const headCut = head.search(/\s\S*$/);
  if (headCut > headLength * 0.6) head = head.slice(0, headCut);
  let tail = text.slice(text.length - tailLength);
  const tailCut = tail.search(/\s/);
  if (tailCut >= 0 && tailCut < tailLength * 0.4) tail = tail.slice(tailCut + 1);
  return `${head.trimEnd()} ${hint} ${tail.trimStart()}`;
}

/**
 * The session history as the model sees it, compressed and fitted to
 * `budgetTokens`. Tool calls whose results never arrived (an interrupted
 * turn) are dropped, because providers reject them.
 */
export function compressHistory(
  history: MessageRow[],
  options: CompressionOptions,
): CompressedHistory {
  const entries = toEntries(history, options);
  const n = entries.length;
  const recentFrom = Math.max(0, n - options.recentMessages);
  const setContent = (e: Entry, maxChars: number) => {
    const content = contentOf(e.message);
    if (content === null || content.length <= maxChars) return;
    const shortened = shortenText(e.row.content, e.row.id, maxChars);
    if (shortened.length >= content.length) return;
    (e.message as { content: string }).content = shortened;
    e.truncated = true;
    e.chars = shortened.length;
    e.tokens = countMessageTokens(e.message, options.model);
  };

  entries.forEach((e, i) => {
    if (e.current) return;
    setContent(e, i < recentFrom ? options.messageMaxChars : options.recentMaxChars);
  });

  let kept = entries;
  let omitted = 0;
  const noteTokens = (count: number) =>
    count > 0
      ? countMessageTokens(
          { role: 'system', content: omissionNote(options.sessionId, count) },
          options.model,
        )
      : 0;
  const total = () => kept.reduce((s, e) => s + e.tokens, 0) + noteTokens(omitted);

  // Over budget: older messages to a line each, then recent ones to the old
  // limit, then drop whole turns from the start, then cut the running turn.
  const stages: ((e: Entry, i: number) => void)[] = [
    (e, i) => !e.current && i < recentFrom && setContent(e, MINIMAL_CHARS),
    (e) => !e.current && setContent(e, options.messageMaxChars),
  ];
  for (const stage of stages) {
    if (total() <= options.budgetTokens) break;
    entries.forEach(stage);
  }
  while (total() > options.budgetTokens && kept.length > 0 && !kept[0].current) {
    // Drop the oldest turn: up to the next user message, so no tool result loses its call.
    let cut = 1;
    while (cut < kept.length && kept[cut].row.role !== 'user' && !kept[cut].current) cut++;
    omitted += cut;
    kept = kept.slice(cut);
  }
  for (const maxChars of [options.recentMaxChars, options.messageMaxChars, MINIMAL_CHARS]) {
    if (total() <= options.budgetTokens) break;
    kept.forEach((e) => setContent(e, maxChars));
  }

  const messages: ChatMessage[] = [];
  if (omitted > 0)
    messages.push({ role: 'system', content: omissionNote(options.sessionId, omitted) });
  messages.push(...kept.map((e) => e.message));
  const tokens = total();
  return {
    messages,
    entries: kept.map((e) => ({
      id: e.row.id,
      role: e.row.role,
      tokens: e.tokens,
      chars: e.chars,
      original_chars: e.row.content.length,
      truncated: e.truncated,
    })),
    omitted,
    tokens,
    overBudget: tokens > options.budgetTokens,
  };
}

function omissionNote(sessionId: string, count: number): string {
  return `[... ${count} earlier messages of this session omitted to fit the context budget — lookup session ${sessionId} ...]`;
}

function contentOf(message: ChatMessage): string | null {
  const content = (message as { content?: unknown }).content;
  return typeof content === 'string' ? content : null;
}

/** The history as chat messages, with dangling tool calls dropped (as `buildPrompt` does). */
function toEntries(history: MessageRow[], options: CompressionOptions): Entry[] {
  const answered = new Set(history.filter((m) => m.role === 'tool').map((m) => m.tool_call_id));
  const requested = new Set<string>();
  const entries: Entry[] = [];
  const push = (row: MessageRow, message: ChatMessage) =>
    entries.push({
      row,
      message,
      tokens: countMessageTokens(message, options.model),
      truncated: false,
      chars: contentOf(message)?.length ?? 0,
      current: options.currentRunId !== undefined && row.run_id === options.currentRunId,
    });
  for (const m of history) {
    switch (m.role) {
      case 'system':
        push(m, { role: 'system', content: m.content });
        break;
      case 'user':
        push(m, { role: 'user', content: m.content });
        break;
      case 'assistant': {
        const calls = (m.tool_calls ?? []).filter((c) => answered.has(c.id));
        calls.forEach((c) => requested.add(c.id));
        if (calls.length > 0)
          push(m, { role: 'assistant', content: m.content || null, tool_calls: calls });
        else if (m.content) push(m, { role: 'assistant', content: m.content });
        break;
      }
      case 'tool':
        if (m.tool_call_id && requested.has(m.tool_call_id)) {
          push(m, { role: 'tool', tool_call_id: m.tool_call_id, content: m.content });
        }
        break;
    }
  }
  return entries;
}
