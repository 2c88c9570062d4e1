import { randomUUID } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { blobKeys, type BlobStore } from '../blob';
import type { Config } from '../config';
import { insertFile, type FileRow } from '../db/files';
import type { Pool } from '../db/pool';
import { insertRun, type RunRow } from '../db/runs';
import { withTransaction } from '../db/sql';
import { AppError, UnavailableError } from '../errors';
import { ingestFileWorkflow, ingestWorkflowId } from '../../workflows/ingest-file.workflow';
import { RUN_KIND, TENANT_ID, USER_ID } from '../../workflows/search-attributes';
import { detectFormat, FORMAT_MEDIA_TYPE, type FileFormat } from './formats';
import { ByteLimit } from './upload-limits';

export interface UploadRequest {
  tenantId: string;
  userId: string | null;
  sessionId: string | null;
  filename: string;
  format: FileFormat;
  body: Readable;
}

/**
 * Uploads and deletions of files. An upload is checked (type, size) before
 * anything is stored, streamed into the blob store, recorded with its ingest
 * run, and only then handed to `ingestFileWorkflow`, which gets ids only.
 */
export class FileService {
  constructor(
    private readonly pool: Pool,
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
   */
  async upload(req: UploadRequest): Promise<{ file: FileRow; run: RunRow }> {
    const fileId = randomUUID();
    const runId = randomUUID();
    const key = blobKeys.original(req.tenantId, fileId);
    const limited = new ByteLimit(this.config.maxUploadBytes);
    pipeline(req.body, limited, () => undefined);
    const stored = await this.blobs.put(key, limited, {
      contentType: FORMAT_MEDIA_TYPE[req.format],
    });
    const workflowId = ingestWorkflowId(req.tenantId, fileId);
    let recorded: { file: FileRow; run: RunRow };
    try {
      recorded = await withTransaction(this.pool, async (tx) => {
        const run = await insertRun(tx, {
          id: runId,
          tenantId: req.tenantId,
          kind: 'ingest',
          sessionId: null,
          userId: req.userId,
          model: null,
          input: { file_id: fileId },
          idempotencyKey: null,
          requestHash: null,
          workflowId,
        });
        const file = await insertFile(tx, {
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
          runId,
        });
        return { file, run };
      });
    } catch (err) {
      await this.blobs.delete(key).catch(() => undefined);
      throw err;
    }
    try {
      await this.temporal.workflow.start(ingestFileWorkflow, {
        workflowId,
        taskQueue: this.config.temporal.taskQueue,
        args: [
          {
            tenantId: req.tenantId,
            fileId,
            runId,
            onePass: stored.size <= this.config.ingest.onePassMaxBytes,
          },
        ],
        typedSearchAttributes: [
          { key: TENANT_ID, value: req.tenantId },
          { key: USER_ID, value: req.userId ?? '' },
          { key: RUN_KIND, value: 'ingest' },
        ],
      });
    } catch (err) {
      // Nothing was accepted: undo the rows and the blob.
      await this.pool.query('delete from files where id = $1', [fileId]).catch(() => undefined);
      await this.pool.query('delete from runs where id = $1', [runId]).catch(() => undefined);
      await this.blobs.delete(key).catch(() => undefined);
      throw new UnavailableError(
        'the workflow service is unavailable; the file was not accepted',
        { dependency: 'temporal' },
        err,
      );
    }
    return recorded;
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
