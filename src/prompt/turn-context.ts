import type { Config } from '../config';
import { loadSessionHistory, type MessageRow } from '../db/messages';
import type { Pool } from '../db/pool';
import { maybeOne } from '../db/sql';
import type { Embedder } from '../embeddings/embedder';
import type { Logger } from '../logger';
import { recallMemories, type RecalledMemory } from '../memory/recall';
import type { ChatMessage, ChatTool } from '../providers/stream-chat';
import { compressHistory, type HistoryEntryInfo } from './compress-history';
import {
  countMessageTokens,
  countTextTokens,
  countToolTokens,
  promptBudget,
  REPLY_PRIMING,
} from './token-count';

/**
 * Everything a model step sees, built in one place: the model activity sends
 * `messages`, and `GET /v1/sessions/{id}/context` shows the same object, so
 * the preview is exactly what the model gets.
 */

export interface TurnContextDeps {
  pool: Pool;
  config: Config;
  embedder: Embedder;
  log?: Logger;
}

export interface TurnContextRequest {
  tenantId: string;
  sessionId: string;
  userId: string | null;
  model: string;
  /** System messages sent with this turn only. */
  turnSystem: string[];
  /** The running turn: its messages are never shortened unless nothing else fits. */
  currentRunId?: string;
  /** Tools offered with the request (they take tokens too). */
  tools?: ChatTool[];
  maxOutputTokens?: number;
  /** Preview only: a user message not yet stored, as if the next turn had begun with it. */
  pendingUserMessage?: string;
}

export interface TurnContext {
  messages: ChatMessage[];
  model: string;
  budget_tokens: number;
  total_tokens: number;
  over_budget: boolean;
  parts: {
    system: { text: string; tokens: number };
    memories: { items: RecalledMemory[]; text: string; tokens: number; query: string | null };
    profile: { mode: 'none' | 'hint' | 'injected'; text: string; tokens: number };
    history: {
      messages: number;
      omitted: number;
      truncated: number;
      tokens: number;
      entries: HistoryEntryInfo[];
    };
    tools: { count: number; tokens: number };
  };
}

const PENDING_RUN = 'pending';

/** Build the prompt of the next model step of a session. */
export async function buildTurnContext(
  deps: TurnContextDeps,
  req: TurnContextRequest,
): Promise<TurnContext> {
  const { config } = deps;
  let history = await loadSessionHistory(deps.pool, req.sessionId);
  let currentRunId = req.currentRunId;
  if (req.pendingUserMessage !== undefined) {
    history = [...history, pendingRow(req, history)];
    currentRunId = PENDING_RUN;
  }

  const query = lastUserText(history);
  // Independent reads: in parallel, they cost one round trip on the way to the first token.
  const [memories, profile] = await Promise.all([
    req.userId && query
      ? recallMemories(deps, { tenantId: req.tenantId, userId: req.userId, query })
      : Promise.resolve([]),
    req.userId
      ? profileBlock(deps, req.tenantId, req.userId)
      : Promise.resolve({ mode: 'none' as const, text: '' }),
  ]);
  const memoriesText = formatMemories(memories);

  // The base prompt and the session id first: they are stable across turns (provider prompt caches).
  const base = [config.systemPrompt, `Session: ${req.sessionId}`, ...req.turnSystem].join('\n\n');
  const system = [base, profile.text, memoriesText].filter(Boolean).join('\n\n');
  const systemMessage: ChatMessage = { role: 'system', content: system };
  const systemTokens = countMessageTokens(systemMessage, req.model);
  const toolTokens = countToolTokens(req.tools, req.model);

  const budget = promptBudget(req.model, config.prompt.tokenBudget, req.maxOutputTokens);
  const compressed = compressHistory(history, {
    model: req.model,
    sessionId: req.sessionId,
    currentRunId,
    recentMessages: config.prompt.recentMessages,
    messageMaxChars: config.prompt.messageMaxChars,
    recentMaxChars: config.prompt.recentMaxChars,
    budgetTokens: Math.max(0, budget - systemTokens - toolTokens - REPLY_PRIMING),
  });
  const total = systemTokens + toolTokens + compressed.tokens + REPLY_PRIMING;
  return {
    messages: [systemMessage, ...compressed.messages],
    model: req.model,
    budget_tokens: budget,
    total_tokens: total,
    over_budget: total > budget,
    parts: {
      system: { text: base, tokens: countTextTokens(base, req.model) },
      memories: {
        items: memories,
        text: memoriesText,
        tokens: countTextTokens(memoriesText, req.model),
        query: query ?? null,
      },
      profile: { ...profile, tokens: countTextTokens(profile.text, req.model) },
      history: {
        messages: compressed.entries.length,
        omitted: compressed.omitted,
        truncated: compressed.entries.filter((e) => e.truncated).length,
        tokens: compressed.tokens,
        entries: compressed.entries,
      },
      tools: { count: req.tools?.length ?? 0, tokens: toolTokens },
    },
  };
}

/** Recalled memories, one line each with the id the model can look up. */
export function formatMemories(memories: RecalledMemory[]): string {
  if (memories.length === 0) return '';
  const lines = memories.map((m) => `- ${m.content} (${m.id})`);
  return [
    "Memories about this user (most relevant first; lookup <id> for a memory's history):",
    ...lines,
  ].join('\n');
}

async function profileBlock(
  deps: TurnContextDeps,
  tenantId: string,
  userId: string,
): Promise<{ mode: 'none' | 'hint' | 'injected'; text: string }> {
  const row = await maybeOne<{ profile: Record<string, unknown> }>(
    deps.pool,
    'select profile from user_profiles where tenant_id = $1 and user_id = $2',
    [tenantId, userId],
  );
  const hasProfile = row !== undefined && Object.keys(row.profile).length > 0;
  if (!hasProfile) return { mode: 'none', text: `User: ${userId}` };
  if (deps.config.prompt.autoInjectUserContext) {
    return {
      mode: 'injected',
      text: `User: ${userId}\nUser profile: ${JSON.stringify(row.profile)}`,
    };
  }
  return {
    mode: 'hint',
    text: `User: ${userId}. To load the user's profile: lookup user:${userId}`,
  };
}

function lastUserText(history: MessageRow[]): string | undefined {
  for (let i = history.length - 1; i >= 0; i--)
    if (history[i].role === 'user') return history[i].content;
  return undefined;
}

function pendingRow(req: TurnContextRequest, history: MessageRow[]): MessageRow {
  return {
    id: '00000000-0000-4000-8000-000000000000',
    tenant_id: req.tenantId,
    session_id: req.sessionId,
    run_id: PENDING_RUN,
    seq: (history[history.length - 1]?.seq ?? 0) + 1,
    role: 'user',
    content: req.pendingUserMessage ?? '',
    tool_calls: null,
    tool_call_id: null,
    status: 'completed',
    incomplete_reason: null,
    usage: null,
    idem_key: null,
    created_at: new Date(0),
  };
}
