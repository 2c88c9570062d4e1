import type { Config } from '../config';
import type { Logger } from '../logger';
import { startApi } from '../server';
import { startStack } from '../stack';
import { startWorker } from '../worker';
import { migrateDatabase } from './migrate-database';
import { untilSignal } from './until-signal';

/**
 * `reverie dev`: the whole platform in one command on the embedded stack
 * (or on TEMPORAL_ADDRESS / DATABASE_URL when set).
 */
export async function runDev(config: Config, log: Logger, root: string): Promise<number> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    'reverie: starting the embedded stack (first run installs Temporal and Postgres into .reverie/)',
  );
  const stack = await startStack({
    root,
    mode: 'dev',
    temporalAddress: config.temporal.address,
    databaseUrl: config.databaseUrl,
    namespace: config.temporal.namespace,
    log: (line) => say(`  ${line}`),
  });
  const running: Config = {
    ...config,
    databaseUrl: stack.databaseUrl,
    temporal: {
      ...config.temporal,
      address: stack.temporalAddress,
      uiUrl: stack.temporalUiUrl ?? config.temporal.uiUrl,
    },
  };
  try {
    await migrateDatabase(running, log);
    const worker = await startWorker(running, log);
    const api = await startApi(running, log, { localTemporal: worker.localClient });
    const model = running.llm.configured ? running.llm.model : 'simulator';
    say(`
reverie is running
  API          ${api.url}/v1        (OpenAI-compatible; also under /api/v1)
  Temporal UI  ${running.temporal.uiUrl}
  Temporal     ${stack.temporalAddress}
  Postgres     ${stack.databaseUrl}
  Metrics      ${api.url}/metrics
  Model        ${model}${running.llm.configured ? '' : '  (set OPENAI_API_KEY / LLM_BASE_URL for a real model)'}

Try it:
  curl -N ${api.url}/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"${model}","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'

Press Ctrl+C to stop.`);
    await Promise.race([untilSignal(), worker.done]);
    say('reverie: stopping');
    await api.close();
    await worker.shutdown();
    return 0;
  } finally {
    await stack.stop();
  }
}
