import Router from '@koa/router';
import busboy from 'busboy';
import type Koa from 'koa';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { getFile, listFiles, type FileRow } from '../../db/files';
import { getRun } from '../../db/runs';
import { getSession } from '../../db/sessions';
import { InvalidRequestError, NotFoundError, PayloadTooLargeError } from '../../errors';
import type { FileFormat } from '../../files/formats';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { route } from '../route-spec';
import { safeFilename } from '../../files/content-sniffer';
import { callerUserId, idempotencyKey, pathId, resumeCursor, uuidParam } from '../identity';
import { nativeFrame, pipeRunEvents } from '../render/run-stream';
import { assertStorableText } from '../text-input';
import { parseInput } from '../validation';

const UploadQuery = z.object({
  filename: z.string().trim().min(1).max(255).optional(),
  user_id: z.string().trim().min(1).max(256).optional(),
  session_id: z.string().uuid().optional(),
});

const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) });

/** A file as the API shows it. */
export function fileJson(file: FileRow) {
  return {
    id: file.id,
    object: 'file',
    filename: file.filename,
    content_type: file.content_type,
    format: file.format,
    size_bytes: file.size_bytes,
    sha256: file.sha256,
    status: file.status,
    chunk_count: file.chunk_count,
    error: file.error,
    run_id: file.run_id,
    user_id: file.user_id,
    session_id: file.session_id,
    created_at: file.created_at.toISOString(),
    updated_at: file.updated_at.toISOString(),
  };
}

/** Uploads stream into the blob store: the JSON body parser must leave them alone. */
export function skipBodyParserForUploads() {
  return async function skipBodyParserForUploadsMiddleware(ctx: Koa.Context, next: Koa.Next) {
    if (ctx.method === 'POST' && /^\/(api\/)?v1\/files\/?$/.test(ctx.path)) {
      (ctx as { disableBodyParser?: boolean }).disableBodyParser = true;
    }
    await next();
  };
}

/** Files: upload (multipart or raw), read, stream the original, delete, ingestion events. */
export function filesRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>({ prefix: '/files' });
  const service = deps.files;
  const limit = deps.config.maxUploadBytes;

  const loadFile = async (ctx: ApiContext) => {
    const file = await getFile(
      deps.pool,
      ctx.state.principal.tenantId,
      uuidParam(pathId(ctx), 'file id'),
    );
    if (!file) throw new NotFoundError('file');
    return file;
  };

  route(
    router,
    { method: 'post', path: '/', scope: 'files', query: UploadQuery, upload: true },
    async (ctx: ApiContext) => {
      const q = parseInput(UploadQuery, ctx.query, 'query');
      const tenantId = ctx.state.principal.tenantId;
      const declared = Number(ctx.get('Content-Length') || 0);
      // A declared size over the limit is refused before a byte is read.
      if (declared > limit + (ctx.request.is('multipart') ? 64 * 1024 : 0))
        throw new PayloadTooLargeError(limit);
      const userId = callerUserId(ctx, { user_id: q.user_id });
      const sessionId = q.session_id?.toLowerCase() ?? null;
      if (sessionId && !(await getSession(deps.pool, tenantId, sessionId)))
        throw new NotFoundError('session');

      const upload = ctx.request.is('multipart')
        ? await receiveMultipart(ctx, limit, (name, type) => service.format(name, type))
        : receiveRaw(ctx, q.filename, (name, type) => service.format(name, type));
      const { file, run } = await service
        .upload({
          tenantId,
          userId,
          sessionId,
          ...upload.metadata,
          body: upload.body,
          idempotencyKey: idempotencyKey(ctx),
        })
        .finally(() => upload.done?.());
      ctx.status = 201;
      ctx.set('Location', `/v1/files/${file.id}`);
      ctx.body = { ...fileJson(file), run_id: run.id };
    },
  );

  route(
    router,
    { method: 'get', path: '/', scope: 'files', query: ListQuery },
    async (ctx: ApiContext) => {
      const { limit: n } = parseInput(ListQuery, ctx.query, 'query');
      const rows = await listFiles(deps.pool, ctx.state.principal.tenantId, n);
      ctx.body = { object: 'list', data: rows.map(fileJson) };
    },
  );

  route(router, { method: 'get', path: '/:id', scope: 'files' }, async (ctx: ApiContext) => {
    ctx.body = fileJson(await loadFile(ctx));
  });

  route(
    router,
    { method: 'get', path: '/:id/content', scope: 'files' },
    async (ctx: ApiContext) => {
      const file = await loadFile(ctx);
      const body = await deps.blobs.get(file.blob_key);
      ctx.type = file.content_type;
      ctx.length = file.size_bytes;
      ctx.attachment(file.filename, { type: 'inline' });
      ctx.body = body;
    },
  );

  route(router, { method: 'delete', path: '/:id', scope: 'files' }, async (ctx: ApiContext) => {
    const file = await loadFile(ctx);
    await service.remove(file);
    ctx.body = { id: file.id, object: 'file', deleted: true };
  });

  route(
    router,
    { method: 'get', path: '/:id/events', scope: 'files', sse: true },
    async (ctx: ApiContext) => {
      const file = await loadFile(ctx);
      const run = file.run_id ? await getRun(deps.pool, file.tenant_id, file.run_id) : undefined;
      if (!run) throw new NotFoundError('ingestion run');
      const after = resumeCursor(ctx);
      const preamble =
        after === undefined
          ? []
          : [
              {
                event: 'run.state',
                data: JSON.stringify({
                  status: run.status,
                  file_id: file.id,
                  file_status: file.status,
                  last_seq: run.last_seq,
                }),
              },
            ];
      await pipeRunEvents(ctx, deps, {
        run,
        afterSeq: after ?? 0,
        headers: { 'X-Run-Id': run.id, 'X-File-Id': file.id },
        preamble,
        render: (event) => [nativeFrame(event)],
      });
    },
  );

  return router;
}

type Decide = (filename: string, contentType: string | undefined) => FileFormat;

interface Received {
  metadata: { filename: string; format: FileFormat };
  body: Readable;
  /** Called once the body has been consumed (or failed). */
  done?: () => void;
}

/** A raw body: `Content-Type` and `?filename=` describe it. */
function receiveRaw(ctx: ApiContext, filename: string | undefined, decide: Decide): Received {
  if (!filename)
    throw new InvalidRequestError(
      'a raw upload needs ?filename= (or send multipart/form-data with a `file` part)',
    );
  const name = safeFilename(filename);
  const format = decide(name, ctx.get('Content-Type') || undefined);
  return { metadata: { filename: name, format }, body: ctx.req };
}

/**
 * A multipart body: resolves at the `file` part with its stream, which the
 * caller consumes; the type is decided from the part's name and media type
 * before any of its bytes are read.
 */
function receiveMultipart(ctx: ApiContext, limit: number, decide: Decide): Promise<Received> {
  return new Promise<Received>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: ctx.req.headers,
        limits: { files: 1, fileSize: limit + 1, fieldSize: 64 * 1024 },
      });
    } catch (err) {
      reject(new InvalidRequestError(`malformed multipart body: ${(err as Error).message}`));
      return;
    }
    let found = false;
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || found) {
        stream.resume();
        return;
      }
      found = true;
      try {
        // The part's name never passed through parseInput: same rule, same 400.
        assertStorableText(info.filename, 'multipart file name');
        const filename = safeFilename(info.filename || 'upload');
        const format = decide(filename, info.mimeType);
        resolve({ metadata: { filename, format }, body: stream, done: () => ctx.req.resume() });
      } catch (err) {
        stream.resume();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    parser.on('error', (err: Error) =>
      reject(new InvalidRequestError(`malformed multipart body: ${err.message}`)),
    );
    parser.on('close', () => {
      if (!found) reject(new InvalidRequestError('the multipart body has no `file` part'));
    });
    ctx.req.pipe(parser);
  });
}
