/**
 * The floor baseline: the plain Koa proxy (baselines.ts) with one bare Temporal
 * workflow per request, started eagerly on a worker in this process, whose
 * one local activity calls the provider and relays its chunks to the waiting
 * response. No database, no history beyond Temporal's own, no session rules:
 * what any design pays when each turn is a Temporal workflow that runs before
 * the first token, so the gap between it and reverie is reverie's own cost.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { bodyParser } from '@koa/bodyparser';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import Koa from 'koa';
import OpenAI from 'openai';
import { TURN_WORKER_TUNING } from '../src/worker';
import { TURN_TASK_TIMEOUT } from '../workflows/activity-options';
import { listen, type Baseline } from './baselines';
import { silentLogger } from './silent-logger';

/** A request as the workflow carries it: the messages are small here. */
export interface FloorRequest {
  id: string;
  model: string;
  messages: OpenAI.ChatCompletionMessageParam[];
}

export interface FloorActivities {
  relayModelStream(request: FloorRequest): Promise<void>;
}

export async function startTemporalFloor(
  providerBaseURL: string,
  temporalAddress: string,
  namespace: string,
): Promise<Baseline> {
  const provider = new OpenAI({ baseURL: providerBaseURL, apiKey: 'bench', maxRetries: 0 });
  const waiting = new Map<string, PassThrough>();
  const activities: FloorActivities = {
    async relayModelStream({ id, model, messages }) {
      const out = waiting.get(id);
      if (!out) return; // a replay after the response went away
      const stream = await provider.chat.completions.create({ model, messages, stream: true });
      for await (const chunk of stream) out.write(`data: ${JSON.stringify(chunk)}\n\n`);
      out.end('data: [DONE]\n\n');
    },
  };
  const taskQueue = `floor-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./floor-workflow'),
    logger: silentLogger,
  });
  // Reverie's worker settings, so only the design differs.
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowBundle: { code },
    activities,
    ...TURN_WORKER_TUNING,
  });
  const running = worker.run();
  const client = new Client({ connection, namespace });

  const app = new Koa();
  app.use(bodyParser({ enableTypes: ['json'] }));
  app.use(async (ctx) => {
    if (ctx.method !== 'POST' || ctx.path !== '/v1/chat/completions') ctx.throw(404);
    const body = ctx.request.body as OpenAI.ChatCompletionCreateParams;
    if (!body.stream) ctx.throw(400, 'the floor baseline only streams');
    const id = randomUUID();
    const out = new PassThrough();
    waiting.set(id, out);
    out.on('close', () => waiting.delete(id));
    await client.workflow.start('floorTurn', {
      workflowId: `floor:${id}`,
      taskQueue,
      args: [{ id, model: body.model, messages: body.messages }],
      workflowTaskTimeout: TURN_TASK_TIMEOUT,
      requestEagerStart: true,
    });
    ctx.set('X-Session-Id', ctx.get('X-Session-Id') || id);
    ctx.type = 'text/event-stream';
    ctx.body = out;
  });
  const http = await listen(app);
  return {
    url: http.url,
    async close() {
      await http.close();
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
