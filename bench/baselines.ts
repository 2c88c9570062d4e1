/**
 * What reverie is compared with: the least a Node service could do for the same
 * request. Both are Koa apps on 127.0.0.1 in this process, like reverie's API.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import OpenAI from 'openai';

export interface Baseline {
  url: string;
  close(): Promise<void>;
}

/**
 * A plain chat proxy: no Temporal, no database. It forwards each
 * `POST /v1/chat/completions` to the provider with the openai client, streaming
 * as reverie's model activity does, and answers one `chat.completion` JSON
 * (or, when the client asks to stream, relays the chunks as they come).
 */
export function startProxy(providerBaseURL: string): Promise<Baseline> {
  const provider = new OpenAI({ baseURL: providerBaseURL, apiKey: 'bench', maxRetries: 0 });
  const app = new Koa();
  app.use(bodyParser({ enableTypes: ['json'] }));
  app.use(async (ctx) => {
    if (ctx.method !== 'POST' || ctx.path !== '/v1/chat/completions') ctx.throw(404);
    const body = ctx.request.body as OpenAI.ChatCompletionCreateParams;
    const stream = await provider.chat.completions.create({
      model: body.model,
      messages: body.messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    ctx.set('X-Session-Id', ctx.get('X-Session-Id') || randomUUID());
    if (body.stream) {
      const out = new PassThrough();
      ctx.type = 'text/event-stream';
      ctx.body = out;
      void (async () => {
        for await (const chunk of stream) out.write(`data: ${JSON.stringify(chunk)}\n\n`);
        out.end('data: [DONE]\n\n');
      })().catch((err: Error) => out.destroy(err));
      return;
    }
    let content = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    ctx.body = {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null },
          finish_reason: finish ?? 'stop',
          logprobs: null,
        },
      ],
      usage,
    };
  });
  return listen(app);
}

/** A bare Koa app answering `GET /health` with the same JSON as reverie. */
export function startBareHealth(): Promise<Baseline> {
  const app = new Koa();
  app.use((ctx) => {
    if (ctx.method !== 'GET' || ctx.path !== '/health') ctx.throw(404);
    ctx.body = { status: 'ok' };
  });
  return listen(app);
}

export async function listen(app: Koa): Promise<Baseline> {
  const handle = app.callback();
  const server = http.createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
