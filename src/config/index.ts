import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';

/**
 * The one place that reads `process.env`. Everything else receives a `Config`.
 * An invalid value stops start-up with a message naming the variable.
 */

/** An empty variable (`PORT=` in a `.env`) means unset, never 0 or false. */
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A boolean variable; blank or absent → `fallback`. */
const flag = (fallback: boolean) => z.preprocess(blankToUndefined, boolean.default(fallback));
/** A boolean variable whose default is decided later (blank or absent → undefined). */
const optionalFlag = z.preprocess(blankToUndefined, boolean.optional());

/** An integer variable in [min, max]; blank or absent → `fallback`. */
function integer(min: number, fallback: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(min).max(max).default(fallback),
  );
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const fallbackList = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const entries: { model: string; baseURL: string | undefined }[] = [];
    for (const entry of v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      // `model` (same endpoint as the primary) or `model@https://other/v1`.
      const at = entry.indexOf('@');
      const model = at === -1 ? entry : entry.slice(0, at).trim();
      const baseURL = at === -1 ? undefined : entry.slice(at + 1).trim();
      if (!model || (baseURL !== undefined && !URL.canParse(baseURL))) {
        ctx.addIssue({
          code: 'custom',
          message: `"${entry}" is not "model" or "model@https://host/v1"`,
        });
        return z.NEVER;
      }
      entries.push({ model, baseURL });
    }
    return entries;
  });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: integer(0, 8080, 65535),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PUBLIC_URL: optionalString,

  DATABASE_URL: optionalString,
  DATABASE_POOL_MAX: integer(1, 10),

  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('reverie'),
  TEMPORAL_UI_URL: z.string().default('http://localhost:8233'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS: flag(false),

  OPENAI_API_KEY: optionalString,
  LLM_BASE_URL: optionalString,
  LLM_MODEL: z.string().default('gpt-4o-mini'),
  LLM_FALLBACKS: fallbackList,
  LLM_TIMEOUT_MS: integer(100, 120_000),
  SIMULATOR_TOKEN_DELAY_MS: integer(0, 15),

  EMBEDDING_DIM: integer(2, 384, 4000),
  EMBEDDINGS_BASE_URL: optionalString,
  EMBEDDINGS_API_KEY: optionalString,
  EMBEDDINGS_MODEL: z.string().default('text-embedding-3-small'),
  EMBEDDINGS_PROVIDER: z.enum(['auto', 'local', 'openai']).default('auto'),

  BLOB_DRIVER: z.enum(['fs', 's3']).default('fs'),
  BLOB_DIR: z.string().default('.reverie/blobs'),
  S3_BUCKET: z.string().default('reverie'),
  S3_PREFIX: z.string().default(''),
  S3_ENDPOINT: optionalString,
  S3_REGION: z.string().default('us-east-1'),
  S3_FORCE_PATH_STYLE: flag(true),

  MAX_BODY_BYTES: integer(1024, 1_048_576),
  ALLOW_ANONYMOUS: optionalFlag,
  SSE_KEEPALIVE_MS: integer(100, 15_000),
  EVENT_BATCH_MS: integer(0, 25),
  EVENT_BATCH_MAX: integer(1, 64),
  TURN_MAX_STEPS: integer(1, 6, 50),
  SESSION_TURNS_BEFORE_CONTINUE_AS_NEW: integer(1, 100),
  WORKFLOW_BUNDLE_PATH: optionalString,
  SYSTEM_PROMPT: z.string().default('You are reverie, a helpful assistant. Be concise.'),
});

export type Config = ReturnType<typeof toConfig>;

function toConfig(env: z.infer<typeof envSchema>) {
  const production = env.NODE_ENV === 'production';
  return {
    env: env.NODE_ENV,
    production,
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    publicUrl: env.PUBLIC_URL,
    databaseUrl: env.DATABASE_URL,
    databasePoolMax: env.DATABASE_POOL_MAX,
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      uiUrl: env.TEMPORAL_UI_URL,
      apiKey: env.TEMPORAL_API_KEY,
      tls: env.TEMPORAL_TLS,
    },
    llm: {
      apiKey: env.OPENAI_API_KEY,
      baseURL: env.LLM_BASE_URL,
      /** A real endpoint is configured; otherwise only the simulator serves. */
      configured: Boolean(env.OPENAI_API_KEY || env.LLM_BASE_URL),
      model: env.LLM_MODEL,
      fallbacks: env.LLM_FALLBACKS,
      timeoutMs: env.LLM_TIMEOUT_MS,
      simulatorTokenDelayMs: env.SIMULATOR_TOKEN_DELAY_MS,
    },
    embeddingDim: env.EMBEDDING_DIM,
    embeddings: {
      /** `auto`: the OpenAI-compatible endpoint when one is configured, else the local embedder. */
      provider: env.EMBEDDINGS_PROVIDER,
      baseURL: env.EMBEDDINGS_BASE_URL ?? env.LLM_BASE_URL,
      apiKey: env.EMBEDDINGS_API_KEY ?? env.OPENAI_API_KEY,
      model: env.EMBEDDINGS_MODEL,
      configured: Boolean(env.EMBEDDINGS_BASE_URL || env.EMBEDDINGS_API_KEY || env.OPENAI_API_KEY),
    },
    blob: {
      driver: env.BLOB_DRIVER,
      dir: env.BLOB_DIR,
      s3: {
        bucket: env.S3_BUCKET,
        prefix: env.S3_PREFIX,
        endpoint: env.S3_ENDPOINT,
        region: env.S3_REGION,
        forcePathStyle: env.S3_FORCE_PATH_STYLE,
      },
    },
    maxBodyBytes: env.MAX_BODY_BYTES,
    /** Anonymous callers act in the default tenant; on by default outside production. */
    allowAnonymous: env.ALLOW_ANONYMOUS ?? !production,
    sseKeepAliveMs: env.SSE_KEEPALIVE_MS,
    eventBatch: { maxDelayMs: env.EVENT_BATCH_MS, maxEvents: env.EVENT_BATCH_MAX },
    turnMaxSteps: env.TURN_MAX_STEPS,
    sessionTurnsBeforeContinueAsNew: env.SESSION_TURNS_BEFORE_CONTINUE_AS_NEW,
    systemPrompt: env.SYSTEM_PROMPT,
    /** A prebuilt workflow bundle (tests, production images) instead of bundling at start. */
    workflowBundlePath: env.WORKFLOW_BUNDLE_PATH,
  };
}

/** Thrown when the environment is invalid; `message` names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parse the environment (and `.env` when present) into a typed `Config`.
 * @throws ConfigError naming each invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, dotenv = true): Config {
  if (dotenv && env === process.env) loadDotenv({ quiet: true });
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return toConfig(parsed.data);
}

/** The tenant anonymous callers act in (and the embedded dev stack uses). */
export const DEFAULT_TENANT_ID = '00000000-0000-4000-8000-000000000001';
