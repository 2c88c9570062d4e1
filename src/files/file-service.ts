import { randomUUID } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { blobKeys, type BlobStore } from '../blob';
import type { Config } from '../config';
import { getFile, insertFile, type FileRow } from '../db/files';
import type { Pool } from '../db/pool';
import type { RunRow } from '../db/runs';
import { AppError, NotFoundError } from '../errors';
import type { RunStarter, StartedRun } from '../runs/run-starter';
import { ingestFileWorkflow, ingestWorkflowId } from '../../workflows/ingest-file.workflow';
import { RUN_KIND, TENANT_ID, USER_ID } from '../../workflows/search-attributes';
import { detectFormat, FORMAT_MEDIA_TYPE, type FileFormat } from './formats';
import { ContentSniffer } from './content-sniffer';
import { ByteLimit } from './upload-limits';

export interface UploadRequest {
  tenantId: string;
  userId: string | null;
  sessionId: string | null;
  filename: string;
  format: FileFormat;
  body: Readable;
  /** The same key and bytes return the first upload's file and run. */
  idempotencyKey?: string;
}

/**
 * Uploads and deletions of files. An upload is checked (type, size) before
 * anything is stored, streamed into the blob store, recorded with its ingest
 * run, and only then handed to `ingestFileWorkflow`, which gets ids only.
 */
export class FileService {
  constructor(
    private readonly pool: Pool,
    private readonly runs: RunStarter,
    private readonly temporal: Client,
    private readonly blobs: BlobStore,
    private readonly config: Config,
  ) {}

  /**
   * The format of an upload from its declared name and media type.
   * @throws AppError 415 `unsupported_media_type` for anything but txt, md, html, json, csv, pdf.
   */
  format(filename: string, contentType: string | undefined): FileFormat {
    const decision = detectFormat(filename, contentType);
    if (!decision.ok) {
      throw new AppError(415, 'unsupported_media_type', decision.reason, {
        filename,
        content_type: contentType ?? null,
      });
    }
    return decision.format;
  }

  /**
   * Store the body and start its ingestion.
   * @throws PayloadTooLargeError (413) when the body exceeds MAX_UPLOAD_BYTES; nothing is kept.
   * @throws UnavailableError (503) when the workflow cannot be started; nothing is kept.
   * @throws ConflictError (409 `idempotency_conflict`) when the key came with other bytes.
   */
  async upload(req: UploadRequest): Promise<{ file: FileRow; run: RunRow; created: boolean }> {
    const fileId = randomUUID();
    const key = blobKeys.original(req.tenantId, fileId);
    const limited = new ByteLimit(this.config.maxUploadBytes);
    // The bytes must be what the name and type said (magic bytes, UTF-8).
    pipeline(req.body, new ContentSniffer(req.format), limited, () => undefined);
    const stored = await this.blobs.put(key, limited, {
      contentType: FORMAT_MEDIA_TYPE[req.format],
    });
    const onePass = stored.size <= this.config.ingest.onePassMaxBytes;
    let file: FileRow | undefined;
    let started: StartedRun;
    try {
      started = await this.runs.start({
        tenantId: req.tenantId,
        kind: 'ingest',
        userId: req.userId,
        model: null,
        input: { file_id: fileId },
        workflowId: () => ingestWorkflowId(req.tenantId, fileId),
        idempotencyKey: req.idempotencyKey,
        fingerprint: {
          route: 'files.upload',
          filename: req.filename,
          format: req.format,
          session: req.sessionId,
          sha256: stored.sha256,
        },
        attach: async (tx, run) => {
          file = await insertFile(tx, {
            id: fileId,
            tenantId: req.tenantId,
            userId: req.userId,
            sessionId: req.sessionId,
            filename: req.filename,
            contentType: FORMAT_MEDIA_TYPE[req.format],
            format: req.format,
            sizeBytes: stored.size,
            sha256: stored.sha256,
            blobKey: key,
            runId: run.id,
          });
        },
        launch: (run) => this.launch(run, onePass),
        undo: () => this.discard(req.tenantId, fileId, key),
      });
    } catch (err) {
      await this.blobs.delete(key).catch(() => undefined);
      throw err;
    }
    if (started.created) return { file: file!, run: started.run, created: true };
    // A retry: the first request's file stands; this copy of the bytes goes.
    await this.blobs.delete(key).catch(() => undefined);
    const first = await getFile(this.pool, req.tenantId, fileIdOf(started.run));
    if (!first) throw new NotFoundError('file');
    return { file: first, run: started.run, created: false };
  }

  /** Start (or, for a retry, start again: the workflow id is the file's) the ingestion. */
  private async launch(run: RunRow, onePass: boolean): Promise<void> {
    const fileId = fileIdOf(run);
    await this.temporal.workflow.start(ingestFileWorkflow, {
      workflowId: run.workflow_id ?? ingestWorkflowId(run.tenant_id, fileId),
      taskQueue: this.config.temporal.taskQueue,
      args: [{ tenantId: run.tenant_id, fileId, runId: run.id, onePass }],
      typedSearchAttributes: [
        { key: TENANT_ID, value: run.tenant_id },
        { key: USER_ID, value: run.user_id ?? '' },
        { key: RUN_KIND, value: 'ingest' },
      ],
    });
  }

  /** Nothing was accepted: the file row goes (before its run) and so does the blob. */
  private async discard(tenantId: string, fileId: string, key: string): Promise<void> {
    await this.pool
      .query('delete from files where tenant_id = $1 and id = $2', [tenantId, fileId])
      .catch(() => undefined);
    await this.blobs.delete(key).catch(() => undefined);
  }

  /**
   * Delete a file: a running ingestion is cancelled, the row goes (its chunks
   * with it, by cascade; an ingestion still writing fails on the missing row),
   * then the original and any derived blob.
   */
  async remove(file: FileRow): Promise<void> {
    if (file.status === 'processing') {
      await this.temporal.workflow
        .getHandle(ingestWorkflowId(file.tenant_id, file.id))
        .cancel()
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
    }
    await this.pool.query('delete from files where tenant_id = $1 and id = $2', [
      file.tenant_id,
      file.id,
    ]);
    await this.blobs.delete(file.blob_key);
    await this.blobs.delete(blobKeys.chunkPlan(file.tenant_id, file.id)).catch(() => undefined);
  }
}

/** The file an ingest run is for (its input, by claim check). */
function fileIdOf(run: RunRow): string {
  return (run.input as unknown as { file_id: string }).file_id;
}
