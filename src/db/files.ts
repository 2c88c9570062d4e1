import type { Queryable } from './pool';
import { many, maybeOne, one } from './sql';

export type FileStatus = 'processing' | 'ready' | 'failed' | 'deleted';

export interface FileRow {
  id: string;
  tenant_id: string;
  user_id: string | null;
  session_id: string | null;
  filename: string;
  content_type: string;
  format: string | null;
  size_bytes: number;
  sha256: string | null;
  blob_key: string;
  status: FileStatus;
  error: { code: string; message: string } | null;
  chunk_count: number;
  run_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewFile {
  id: string;
  tenantId: string;
  userId: string | null;
  sessionId: string | null;
  filename: string;
  contentType: string;
  format: string;
  sizeBytes: number;
  sha256: string;
  blobKey: string;
  runId: string;
}

export function insertFile(db: Queryable, file: NewFile): Promise<FileRow> {
  return one<FileRow>(
    db,
    `insert into files (id, tenant_id, user_id, session_id, filename, content_type, format, size_bytes,
                        sha256, blob_key, run_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning *`,
    [
      file.id,
      file.tenantId,
      file.userId,
      file.sessionId,
      file.filename,
      file.contentType,
      file.format,
      file.sizeBytes,
      file.sha256,
      file.blobKey,
      file.runId,
    ],
  );
}

export function getFile(
  db: Queryable,
  tenantId: string,
  fileId: string,
): Promise<FileRow | undefined> {
  return maybeOne<FileRow>(db, 'select * from files where tenant_id = $1 and id = $2', [
    tenantId,
    fileId,
  ]);
}

/** For activities, which act on ids the workflow was given by a trusted API. */
export function findFileById(db: Queryable, fileId: string): Promise<FileRow | undefined> {
  return maybeOne<FileRow>(db, 'select * from files where id = $1', [fileId]);
}

export function listFiles(db: Queryable, tenantId: string, limit: number): Promise<FileRow[]> {
  return many<FileRow>(
    db,
    'select * from files where tenant_id = $1 order by created_at desc, id desc limit $2',
    [tenantId, limit],
  );
}

/** A chunk ready to store, with its embedding. */
export interface NewChunk {
  ordinal: number;
  content: string;
  heading: string | null;
  tokenCount: number;
  startOffset: number;
  endOffset: number;
  page: number | null;
  embedding: string;
}

/**
 * Insert a batch of a file's chunks in one statement; ordinals already stored
 * (by an earlier attempt) are left alone, so a retry never duplicates.
 * @returns how many rows were new.
 */
export async function insertChunks(
  db: Queryable,
  tenantId: string,
  fileId: string,
  chunks: NewChunk[],
): Promise<number> {
  if (chunks.length === 0) return 0;
  const res = await db.query(
    `insert into chunks (id, tenant_id, file_id, ordinal, content, heading, token_count, start_offset,
                         end_offset, page, embedding)
     select gen_random_uuid(), $1::uuid, $2::uuid, o, c, h, t, s, e, p, v::vector
     from unnest($3::int[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[], $9::int[], $10::text[])
       as x(o, c, h, t, s, e, p, v)
     on conflict (file_id, ordinal) do nothing`,
    [
      tenantId,
      fileId,
      chunks.map((c) => c.ordinal),
      chunks.map((c) => c.content),
      chunks.map((c) => c.heading),
      chunks.map((c) => c.tokenCount),
      chunks.map((c) => c.startOffset),
      chunks.map((c) => c.endOffset),
      chunks.map((c) => c.page),
      chunks.map((c) => c.embedding),
    ],
  );
  return res.rowCount ?? 0;
}

/** Ordinals of a file's chunks already stored. */
export async function storedOrdinals(db: Queryable, fileId: string): Promise<Set<number>> {
  const rows = await many<{ ordinal: number }>(
    db,
    'select ordinal from chunks where file_id = $1',
    [fileId],
  );
  return new Set(rows.map((r) => r.ordinal));
}
