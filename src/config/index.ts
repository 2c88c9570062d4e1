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

/** A number in [min, max] (thresholds, similarities); blank or absent → `fallback`. */
function decimal(min: number, fallback: number, max: number) {
  return z.preprocess(blankToUndefined, z.coerce.number().min(min).max(max).default(fallback));
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
  LOG_FILE: optionalString,
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
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_PART_SIZE_BYTES: integer(5 * 1024 * 1024, 8 * 1024 * 1024),
  MAX_UPLOAD_BYTES: integer(1, 50 * 1024 * 1024),
  INGEST_CHUNK_TOKENS: integer(32, 400, 8000),
  INGEST_CHUNK_OVERLAP_TOKENS: integer(0, 50, 2000),
  INGEST_EMBED_BATCH: integer(1, 64, 2048),
  INGEST_ONE_PASS_MAX_BYTES: integer(0, 2 * 1024 * 1024),
  REVERIE_URL: z.string().default('http://127.0.0.1:8080'),
  REVERIE_API_KEY: optionalString,

  MAX_BODY_BYTES: integer(1024, 1_048_576),
  ALLOW_ANONYMOUS: optionalFlag,
  SSE_KEEPALIVE_MS: integer(100, 15_000),
  EVENT_BATCH_MS: integer(0, 25),
  EVENT_BATCH_MAX: integer(1, 64),
  TURN_MAX_STEPS: integer(1, 6, 50),
  SESSION_TURNS_BEFORE_CONTINUE_AS_NEW: integer(1, 100),
  // Dreaming (issue 5).
  DREAM_MODEL: optionalString,
  DREAM_TOKEN_BUDGET: integer(1000, 500_000),
  DREAM_PAGE_MESSAGES: integer(5, 100, 1000),
  DREAM_PAGE_CONCURRENCY: integer(1, 4, 32),
  DREAM_USER_CONCURRENCY: integer(1, 4, 100),
  DREAM_CATCHUP_WINDOW: z.string().default('10m'),
  WORKFLOW_BUNDLE_PATH: optionalString,
  SYSTEM_PROMPT: z.string().default('You are reverie, a helpful assistant. Be concise.'),

  // Memory and history compression (issue 3).
  CHAT_AUTO_INJECT_USER_CONTEXT: flag(false),
  PROMPT_TOKEN_BUDGET: integer(256, 16_000),
  HISTORY_RECENT_MESSAGES: integer(0, 8),
  HISTORY_MESSAGE_MAX_CHARS: integer(80, 400),
  HISTORY_RECENT_MAX_CHARS: integer(200, 4000),
  MEMORY_EXTRACTION: flag(true),
  MEMORY_MODEL: optionalString,
  MEMORY_RECALL_LIMIT: integer(0, 5, 50),
  MEMORY_RECALL_MIN_SCORE: decimal(-1, 0.15, 1),
  MEMORY_DEDUPE_THRESHOLD: decimal(0, 0.95, 1),
  MEMORY_RELATED_MIN_SCORE: decimal(-1, 0.3, 1),

  // Security and limits (issue 6).
  ADMIN_TOKEN: optionalString,
  KEY_LAST_USED_FLUSH_MS: integer(100, 60_000),
  AUTH_JWT_ISSUER: optionalString,
  AUTH_JWT_JWKS_URL: optionalString,
  AUTH_JWT_AUDIENCE: optionalString,
  AUTH_JWT_TENANT_CLAIM: z.string().default('tenant_id'),
  AUTH_JWT_CLOCK_SKEW_S: integer(0, 30, 3600),
  RATE_LIMITS: flag(true),
  RATE_RPS: decimal(0.001, 10, 1_000_000),
  RATE_BURST: integer(1, 50),
  RATE_TIERS: z.string().default('').transform(parseTiers),
  RATE_TENANT_FACTOR: integer(1, 10),
  MAX_CONCURRENT_TURNS: integer(1, 4),
  SSE_MAX_PER_KEY: integer(1, 20),
  SSE_LEASE_RENEW_MS: integer(100, 10_000, 600_000),
  CHAT_MAX_MESSAGES: integer(1, 500),
  MAX_HEADER_BYTES: integer(1024, 16 * 1024),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().replace(/\/+$/, ''))
        .filter(Boolean),
    ),
});

/** Tiers a tenant (or the anonymous caller) can be on. */
export const TIERS = ['anonymous', 'free', 'pro', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];

/** Per-tier limits; any field left out falls back to RATE_RPS / RATE_BURST / MAX_CONCURRENT_TURNS. */
const TierLimits = z
  .object({
    rps: z.number().positive().optional(),
    burst: z.number().int().positive().optional(),
    max_concurrent_turns: z.number().int().positive().optional(),
  })
  .strict();
const TierTable = z.partialRecord(z.enum(TIERS), TierLimits);

/** `RATE_TIERS`: JSON `{"anonymous": {"rps": 1, "burst": 5}, "pro": {...}}`. */
function parseTiers(v: string, ctx: z.RefinementCtx): z.infer<typeof TierTable> {
  if (!v.trim()) return {};
  try {
    const parsed = TierTable.safeParse(JSON.parse(v));
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: 'custom', message: parsed.error.issues[0]?.message ?? 'invalid' });
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'must be JSON like {"pro": {"rps": 20, "burst": 40}}',
    });
  }
  return z.NEVER;
}

export type Config = ReturnType<typeof toConfig>;

/** Model, embeddings and blob providers: the outside services a process talks to. */
function providerConfig(env: z.infer<typeof envSchema>) {
  return {
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
        accessKeyId: env.S3_ACCESS_KEY_ID,
        secretAccessKey: env.S3_SECRET_ACCESS_KEY,
        /** Objects above this go up as multipart uploads of parts this size. */
        partSize: env.S3_PART_SIZE_BYTES,
      },
    },
  };
}
function toConfig(env: z.infer<typeof envSchema>) {
  const production = env.NODE_ENV === 'production';
  return {
    env: env.NODE_ENV,
    production,
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    /** Append log lines to this file instead of stdout (a command's stdout stays its output). */
    logFile: env.LOG_FILE,
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
    ...providerConfig(env),
    /** Largest file `POST /v1/files` accepts (413 above). */
    maxUploadBytes: env.MAX_UPLOAD_BYTES,
    ingest: {
      chunkTokens: env.INGEST_CHUNK_TOKENS,
      overlapTokens: env.INGEST_CHUNK_OVERLAP_TOKENS,
      embedBatch: env.INGEST_EMBED_BATCH,
      /** Files up to this size are ingested in one activity (no chunk plan, fewer workflow tasks). */
      onePassMaxBytes: env.INGEST_ONE_PASS_MAX_BYTES,
    },
    /** Where the `reverie ingest` / `reverie search` commands find the API, and their key. */
    client: { url: env.REVERIE_URL, apiKey: env.REVERIE_API_KEY },
    maxBodyBytes: env.MAX_BODY_BYTES,
    /** Anonymous callers act in the default tenant; on by default outside production. */
    allowAnonymous: env.ALLOW_ANONYMOUS ?? !production,
    sseKeepAliveMs: env.SSE_KEEPALIVE_MS,
    eventBatch: { maxDelayMs: env.EVENT_BATCH_MS, maxEvents: env.EVENT_BATCH_MAX },
    turnMaxSteps: env.TURN_MAX_STEPS,
    sessionTurnsBeforeContinueAsNew: env.SESSION_TURNS_BEFORE_CONTINUE_AS_NEW,
    systemPrompt: env.SYSTEM_PROMPT,
    prompt: {
      /** Upper bound of a turn's prompt in tokens; the model's context window may lower it. */
      tokenBudget: env.PROMPT_TOKEN_BUDGET,
      /** The newest messages kept whole (unless longer than `recentMaxChars`). */
      recentMessages: env.HISTORY_RECENT_MESSAGES,
      /** Older messages longer than this become head/tail with a lookup hint. */
      messageMaxChars: env.HISTORY_MESSAGE_MAX_CHARS,
      recentMaxChars: env.HISTORY_RECENT_MAX_CHARS,
      /** Inject the user profile into the system prompt instead of a lookup hint. */
      autoInjectUserContext: env.CHAT_AUTO_INJECT_USER_CONTEXT,
    },
    memory: {
      /** Extract memories after each turn of a known user. */
      extraction: env.MEMORY_EXTRACTION,
      /** Model of the extraction calls; the default model when unset. */
      model: env.MEMORY_MODEL,
      recallLimit: env.MEMORY_RECALL_LIMIT,
      recallMinScore: env.MEMORY_RECALL_MIN_SCORE,
      /** Cosine at or above which a new fact is the same as a memory (NOOP without asking a model). */
      dedupeThreshold: env.MEMORY_DEDUPE_THRESHOLD,
      /** Cosine from which an existing memory is shown to the model to decide UPDATE/DELETE. */
      relatedMinScore: env.MEMORY_RELATED_MIN_SCORE,
    },
    dreaming: {
      /** Model of the dreaming steps; the default model when unset. */
      model: env.DREAM_MODEL,
      /** Tokens one dreaming run may spend before it stops (cleanly, `interrupted`). */
      tokenBudget: env.DREAM_TOKEN_BUDGET,
      /** Messages per moments call (one model call per page). */
      pageMessages: env.DREAM_PAGE_MESSAGES,
      pageConcurrency: env.DREAM_PAGE_CONCURRENCY,
      /** Users dreamt at once by the tenant fan-out. */
      userConcurrency: env.DREAM_USER_CONCURRENCY,
      /** Default catch-up window of a tenant's dreaming schedule. */
      catchupWindow: env.DREAM_CATCHUP_WINDOW,
    },
    security: {
      /** Bootstrap admin credential (a bearer token); unset: no such credential. */
      adminToken: env.ADMIN_TOKEN,
      /** How often each API process writes the `last_used_at` of keys it saw (one batched update). */
      lastUsedFlushMs: env.KEY_LAST_USED_FLUSH_MS,
      jwt: env.AUTH_JWT_ISSUER
        ? {
            issuer: env.AUTH_JWT_ISSUER,
            jwksUrl: env.AUTH_JWT_JWKS_URL,
            audience: env.AUTH_JWT_AUDIENCE,
            tenantClaim: env.AUTH_JWT_TENANT_CLAIM,
            clockSkewSeconds: env.AUTH_JWT_CLOCK_SKEW_S,
          }
        : undefined,
      corsOrigins: env.CORS_ORIGINS,
      /** Open SSE streams one key (or anonymous IP) may hold at once across every replica (429 above). */
      sseMaxPerKey: env.SSE_MAX_PER_KEY,
      /** How often a replica renews its SSE leases; a lease expires after three missed renewals. */
      sseLeaseRenewMs: env.SSE_LEASE_RENEW_MS,
      /** Largest `messages` array of a chat completion. */
      chatMaxMessages: env.CHAT_MAX_MESSAGES,
      /** Node's limit on the total size of request headers (431 above). */
      maxHeaderBytes: env.MAX_HEADER_BYTES,
    },
    rateLimits: {
      enabled: env.RATE_LIMITS,
      rps: env.RATE_RPS,
      burst: env.RATE_BURST,
      maxConcurrentTurns: env.MAX_CONCURRENT_TURNS,
      tiers: env.RATE_TIERS,
      /** A tenant's callers together get this many times one caller's limit. */
      tenantFactor: env.RATE_TENANT_FACTOR,
    },
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
