import type { ItemRow } from '../../db/messages';
import type { RunRow, RunStatus } from '../../db/runs';
import type { SessionRow } from '../../db/sessions';

/**
 * Shapes of the Agent Protocol / LangGraph API (what `@langchain/langgraph-sdk`
 * reads): a thread is a session, a run is a run, its state the session's messages.
 */

/** A message as LangChain serialises it (`human`, `ai`, `system`, `tool`). */
export interface LangGraphMessage {
  type: 'human' | 'ai' | 'system' | 'tool';
  id: string;
  content: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
}

const TYPES = { user: 'human', assistant: 'ai', system: 'system', tool: 'tool' } as const;

/** The id of a run's answer, known before the answer exists (a stream names it up front). */
export function answerMessageId(runId: string): string {
  return `run-${runId}`;
}

export function langGraphMessage(m: ItemRow): LangGraphMessage {
  const type = TYPES[m.role];
  const message: LangGraphMessage = {
    type,
    id: m.answer_of ? answerMessageId(m.answer_of) : m.id,
    content: m.content,
  };
  if (type === 'ai') message.tool_calls = [];
  if (type === 'tool') message.tool_call_id = m.tool_call_id ?? '';
  return message;
}

/** LangGraph's run status for ours. */
export function langGraphRunStatus(status: RunStatus): string {
  switch (status) {
    case 'queued':
      return 'pending';
    case 'running':
      return 'running';
    case 'succeeded':
      return 'success';
    case 'failed':
      return 'error';
    default:
      return 'interrupted'; // cancelled, interrupted
  }
}

export function langGraphRunJson(run: RunRow) {
  const echo = run.input.agent_protocol;
  return {
    run_id: run.id,
    thread_id: run.session_id,
    assistant_id: echo?.assistant_id ?? run.input.agent,
    created_at: run.created_at.toISOString(),
    updated_at: (run.finished_at ?? run.started_at ?? run.created_at).toISOString(),
    status: langGraphRunStatus(run.status),
    metadata: echo?.metadata ?? {},
    multitask_strategy: echo?.multitask_strategy ?? 'enqueue',
    kwargs: {},
  };
}

export function threadJson(s: SessionRow, busy: boolean, messages?: LangGraphMessage[]) {
  return {
    thread_id: s.id,
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
    metadata: s.metadata,
    status: busy ? 'busy' : 'idle',
    values: messages ? { messages } : null,
    interrupts: {},
  };
}

/** A thread's state: its messages, and nothing left to run (a turn is one step). */
export function threadStateJson(s: SessionRow, messages: LangGraphMessage[], runId: string | null) {
  return {
    values: { messages },
    next: [],
    tasks: [],
    metadata: { thread_id: s.id, run_id: runId },
    created_at: s.updated_at.toISOString(),
    // One checkpoint per finished turn: the run that wrote it names it.
    checkpoint: { thread_id: s.id, checkpoint_ns: '', checkpoint_id: runId },
    parent_checkpoint: null,
    interrupts: [],
  };
}
