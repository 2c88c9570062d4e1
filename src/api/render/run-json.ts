import type { Config } from '../../config';
import type { RunRow } from '../../db/runs';
import type { MessageRow } from '../../db/messages';
import { temporalUrl } from '../../temporal/ui-url';

/** A run as the API shows it (API.md "Runs and events"). */
export function runJson(run: RunRow, config: Config) {
  const latency =
    run.started_at && run.finished_at
      ? run.finished_at.getTime() - run.started_at.getTime()
      : undefined;
  return {
    id: run.id,
    object: 'run',
    kind: run.kind,
    status: run.status,
    session_id: run.session_id,
    user_id: run.user_id,
    model: run.model,
    message_id: run.message_id,
    created_at: run.created_at.toISOString(),
    started_at: run.started_at?.toISOString() ?? null,
    finished_at: run.finished_at?.toISOString() ?? null,
    usage: {
      prompt_tokens: run.usage.prompt_tokens ?? 0,
      completion_tokens: run.usage.completion_tokens ?? 0,
      total_tokens: run.usage.total_tokens ?? 0,
      model_calls: run.usage.model_calls ?? 0,
      ttft_ms: run.usage.ttft_ms ?? null,
      latency_ms: latency ?? null,
    },
    error: run.error,
    last_seq: run.last_seq,
    workflow_id: run.workflow_id,
    temporal_url: run.workflow_id ? temporalUrl(config, run.workflow_id) : null,
  };
}

export function messageJson(m: MessageRow) {
  return {
    id: m.id,
    object: 'message',
    session_id: m.session_id,
    role: m.role,
    content: m.content,
    tool_calls: m.tool_calls ?? undefined,
    tool_call_id: m.tool_call_id ?? undefined,
    status: m.status,
    incomplete_reason: m.incomplete_reason,
    run_id: m.run_id,
    usage: m.usage,
    created_at: m.created_at.toISOString(),
  };
}
