import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';

/**
 * The one place that reads `process.env`. Everything else receives a `Config`.
 * An invalid value stops start-up with a message naming the variable.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const fallbackList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((entry) => {
        // `model` (same endpoint as the primary) or `model@https://other/v1`.
        const at = entry.indexOf('@');
        return at === -1
          ? { model: entry, baseURL: undefined }
          : { model: entry.slice(0, at), baseURL: entry.slice(at + 1) };
      }),
  );

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PUBLIC_URL: optionalString,

  DATABASE_URL: optionalString,
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(10),

  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('reverie'),
  TEMPORAL_UI_URL: z.string().default('http://localhost:8233'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_TLS: bool.default(false),

  OPENAI_API_KEY: optionalString,
  LLM_BASE_URL: optionalString,
  LLM_MODEL: z.string().default('gpt-4o-mini'),
  LLM_FALLBACKS: fallbackList,
  LLM_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
  SIMULATOR_TOKEN_DELAY_MS: z.coerce.number().int().min(0).default(15),

  EMBEDDING_DIM: z.coerce.number().int().min(2).max(4000).default(384),

  BLOB_DRIVER: z.enum(['fs', 's3']).default('fs'),
  BLOB_DIR: z.string().default('.reverie/blobs'),
  S3_BUCKET: z.string().default('reverie'),
  S3_PREFIX: z.string().default(''),
  S3_ENDPOINT: optionalString,
  S3_REGION: z.string().default('us-east-1'),
  S3_FORCE_PATH_STYLE: bool.default(true),

  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  ALLOW_ANONYMOUS: bool.optional(),
  SSE_KEEPALIVE_MS: z.coerce.number().int().min(100).default(15_000),
  EVENT_BATCH_MS: z.coerce.number().int().min(0).default(25),
  EVENT_BATCH_MAX: z.coerce.number().int().min(1).default(64),
  TURN_MAX_STEPS: z.coerce.number().int().min(1).max(50).default(6),
  SESSION_TURNS_BEFORE_CONTINUE_AS_NEW: z.coerce.number().int().min(1).default(100),
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
