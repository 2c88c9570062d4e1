import { ConfigError, loadConfig } from '../../src/config';

/** `loadConfig` parses the environment once; a bad value names its variable. */
describe('loadConfig', () => {
  function configError(env: Record<string, string>): ConfigError {
    try {
      loadConfig(env, false);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
  }

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['EMBEDDING_DIM', '0'],
    ['EMBEDDING_DIM', '2.5'],
    ['BLOB_DRIVER', 'x'],
    ['LOG_LEVEL', 'loud'],
    ['MAX_BODY_BYTES', '10'],
    ['ALLOW_ANONYMOUS', 'maybe'],
    ['NODE_ENV', 'staging'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.name).toBe('ConfigError');
    expect(err.message).toContain(name);
  });

  it('names every invalid variable at once', () => {
    const err = configError({ PORT: 'abc', BLOB_DRIVER: 'x' });
    expect(err.message).toContain('PORT');
    expect(err.message).toContain('BLOB_DRIVER');
  });

  it('has documented defaults for an empty environment', () => {
    const config = loadConfig({}, false);
    expect(config.env).toBe('development');
    expect(config.production).toBe(false);
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.embeddingDim).toBe(384);
    expect(config.maxBodyBytes).toBe(1_048_576);
    expect(config.blob.driver).toBe('fs');
    expect(config.temporal.namespace).toBe('default');
    expect(config.temporal.taskQueue).toBe('reverie');
    expect(config.llm.configured).toBe(false);
    expect(config.llm.model).toBe('gpt-4o-mini');
    expect(config.llm.fallbacks).toEqual([]);
    expect(config.sseKeepAliveMs).toBe(15_000);
    expect(config.allowAnonymous).toBe(true);
    expect(config.databaseUrl).toBeUndefined();
  });

  it('turns anonymous access off by default in production, unless enabled explicitly', () => {
    expect(loadConfig({ NODE_ENV: 'production' }, false).allowAnonymous).toBe(false);
    expect(
      loadConfig({ NODE_ENV: 'production', ALLOW_ANONYMOUS: 'true' }, false).allowAnonymous,
    ).toBe(true);
    expect(
      loadConfig({ NODE_ENV: 'development', ALLOW_ANONYMOUS: 'no' }, false).allowAnonymous,
    ).toBe(false);
  });

  it('coerces numbers and booleans from strings', () => {
    const config = loadConfig(
      { PORT: '0', EMBEDDING_DIM: '8', TEMPORAL_TLS: '1', MAX_BODY_BYTES: '2048' },
      false,
    );
    expect(config.port).toBe(0);
    expect(config.embeddingDim).toBe(8);
    expect(config.temporal.tls).toBe(true);
    expect(config.maxBodyBytes).toBe(2048);
  });

  it('treats blank optional strings as unset and trims them', () => {
    const config = loadConfig(
      { DATABASE_URL: '   ', OPENAI_API_KEY: ' sk-x ', LLM_BASE_URL: '' },
      false,
    );
    expect(config.databaseUrl).toBeUndefined();
    expect(config.llm.apiKey).toBe('sk-x');
    expect(config.llm.baseURL).toBeUndefined();
    expect(config.llm.configured).toBe(true);
  });

  it('parses LLM_FALLBACKS: models on the primary endpoint or model@url, blanks skipped', () => {
    const config = loadConfig(
      {
        LLM_FALLBACKS:
          ' gpt-4o , , claude@https://other.example/v1,llama@http://127.0.0.1:11434/v1 ',
      },
      false,
    );
    expect(config.llm.fallbacks).toEqual([
      { model: 'gpt-4o', baseURL: undefined },
      { model: 'claude', baseURL: 'https://other.example/v1' },
      { model: 'llama', baseURL: 'http://127.0.0.1:11434/v1' },
    ]);
  });

  it('treats an empty numeric or boolean variable (PORT= in a .env) as unset, not 0 or false', () => {
    const config = loadConfig(
      { PORT: '', EMBEDDING_DIM: ' ', S3_FORCE_PATH_STYLE: '', ALLOW_ANONYMOUS: '' },
      false,
    );
    expect(config.port).toBe(8080);
    expect(config.embeddingDim).toBe(384);
    expect(config.blob.s3.forcePathStyle).toBe(true);
    expect(config.allowAnonymous).toBe(true);
  });

  it.each(['claude@', '@https://other.example/v1', 'claude@not a url'])(
    'rejects the LLM_FALLBACKS entry %s',
    (entry) => {
      expect(configError({ LLM_FALLBACKS: `gpt-4o,${entry}` }).message).toContain('LLM_FALLBACKS');
    },
  );

  it('does not read process.env when given another environment', () => {
    const saved = process.env.PORT;
    process.env.PORT = 'abc';
    try {
      expect(loadConfig({ PORT: '1234' }, false).port).toBe(1234);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });
});
