import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { RunRow } from '../db/runs';
import { touchUser } from '../db/users';
import { TimeoutError } from '../errors';
import type { RunStarter, StartedRun } from '../runs/run-starter';
import type { MemoryRunInput } from './memory-run-input';
import {
  extractMemoriesWorkflow,
  memoryWorkflowId,
  type ExtractMemoriesOutcome,
} from '../../workflows/memory.workflow';
import { RUN_KIND, TENANT_ID, USER_ID } from '../../workflows/search-attributes';

export interface ExtractionRequest {
  tenantId: string;
  userId: string;
  input: MemoryRunInput;
  idempotencyKey?: string;
  /** What the key must match: the request that carried it. */
  fingerprint: unknown;
}

/**
 * Memory extraction on request (`POST /v1/memories`): a `memory` run whose
 * workflow extracts facts and consolidates them into the user's memories.
 */
export class MemoryExtractionService {
  constructor(
    private readonly runs: RunStarter,
    private readonly temporal: Client,
    private readonly config: Config,
  ) {}

  /**
   * @throws ConflictError 409 `idempotency_conflict` when the key came with another request.
   * @throws UnavailableError 503 when Temporal cannot be reached; nothing is kept.
   */
  start(req: ExtractionRequest): Promise<StartedRun> {
    return this.runs.start({
      tenantId: req.tenantId,
      kind: 'memory',
      userId: req.userId,
      model: null,
      input: req.input,
      workflowId: (runId) => memoryWorkflowId(req.tenantId, runId),
      idempotencyKey: req.idempotencyKey,
      fingerprint: req.fingerprint,
      prepare: (tx) => touchUser(tx, req.tenantId, req.userId),
      launch: async (run) => {
        await this.temporal.workflow.start(extractMemoriesWorkflow, {
          workflowId: run.workflow_id!,
          taskQueue: this.config.temporal.taskQueue,
          args: [{ tenantId: run.tenant_id, runId: run.id }],
          typedSearchAttributes: [
            { key: TENANT_ID, value: run.tenant_id },
            { key: USER_ID, value: req.userId },
            { key: RUN_KIND, value: 'memory' },
          ],
        });
      },
    });
  }

  /**
   * The extraction's outcome.
   * @throws TimeoutError 408 `timeout` after `timeoutSeconds` (the extraction goes on).
   */
  async outcome(run: RunRow, timeoutSeconds: number): Promise<ExtractMemoriesOutcome> {
    const handle = this.temporal.workflow.getHandle<typeof extractMemoriesWorkflow>(
      run.workflow_id ?? memoryWorkflowId(run.tenant_id, run.id),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TimeoutError(
              `the memories were not extracted within ${timeoutSeconds} s; the run goes on`,
              { run_id: run.id },
            ),
          ),
        timeoutSeconds * 1000,
      );
    });
    try {
      return await Promise.race([handle.result(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
