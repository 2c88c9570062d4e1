// @ts-check
/**
 * ESLint flat config. TypeScript gets the type-checked recommended rules;
 * workflow code additionally gets the determinism bans of
 * temporalio/samples-typescript `.shared/.eslintrc.js` (no Node built-ins,
 * no I/O clients, no wall clock, no randomness, no timers).
 */
const { builtinModules } = require('node:module');
const { defineConfig } = require('eslint/config');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

const TS_FILES = ['**/*.ts', '**/*.mts', '**/*.cts'];
const COMMONJS_FILES = ['bin/**/*.js', 'scripts/**/*.js', 'jest.config.js', 'eslint.config.js'];

/** Globals of a CommonJS Node script (what `globals.node` + `globals.commonjs` would give). */
const NODE_GLOBALS = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Buffer',
    'URL',
    'URLSearchParams',
    'TextDecoder',
    'TextEncoder',
    'clearImmediate',
    'clearInterval',
    'clearTimeout',
    'console',
    'fetch',
    'global',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ]
    .map((name) => [name, 'readonly'])
    .concat(
      ['require', 'module', 'exports', '__dirname', '__filename'].map((n) => [n, 'readonly']),
    ),
);

const UNUSED_VARS_OPTIONS = {
  args: 'after-used',
  argsIgnorePattern: '^_',
  varsIgnorePattern: '^_',
  caughtErrorsIgnorePattern: '^_',
  destructuredArrayIgnorePattern: '^_',
};

// Pure and bundled by the Temporal workflow bundler; everything else from Node is banned.
const ALLOWED_NODE_BUILTINS = new Set(['assert']);
const WORKFLOW_BANNED_BUILTINS = builtinModules
  .filter((m) => !m.startsWith('_') && !ALLOWED_NODE_BUILTINS.has(m))
  .map((name) => ({
    name,
    message: 'Workflows are deterministic and sandboxed: do I/O and system calls in an activity.',
  }));

const WORKFLOW_BANNED_PACKAGES = [
  'pg',
  'openai',
  'koa',
  'pino',
  'dotenv',
  'prom-client',
  'tsx',
  'eventsource-parser',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/testing',
].map((name) => ({
  name,
  message: 'Workflows must not use I/O clients or host APIs: call an activity instead.',
}));

module.exports = defineConfig(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.reverie/**',
      'coverage/**',
      'results/**',
      'test/fixtures/histories/**',
    ],
  },

  js.configs.recommended,

  // TypeScript: type-aware rules through the project service (tsconfig.json).
  {
    files: TS_FILES,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: __dirname,
      },
    },
    rules: {
      // Forgetting to await an activity, a workflow API or a query is a real bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', UNUSED_VARS_OPTIONS],
      // Activities and workflow functions are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
      'object-shorthand': ['error', 'always'],
    },
  },

  // Tests poke at `any`-typed responses (supertest bodies, JSON fixtures) and jest mocks.
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },

  // CommonJS Node scripts: entry points and tool configs.
  {
    files: COMMONJS_FILES,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'commonjs',
      globals: NODE_GLOBALS,
    },
    rules: {
      'no-unused-vars': ['error', UNUSED_VARS_OPTIONS],
    },
  },

  // Workflow code runs in Temporal's deterministic sandbox and is replayed.
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...WORKFLOW_BANNED_BUILTINS, ...WORKFLOW_BANNED_PACKAGES],
          patterns: [
            {
              group: ['node:*', '!node:assert'],
              message:
                'Workflows are deterministic and sandboxed: do I/O and system calls in an activity.',
            },
            {
              group: ['@aws-sdk/*', '@koa/*'],
              message: 'Workflows must not use I/O clients or host APIs: call an activity instead.',
            },
            {
              // Activities reach workflows only as types: proxyActivities<ReturnType<typeof createActivities>>.
              group: [
                '**/activities',
                '**/activities/**',
                '**/src/db/**',
                '**/src/providers/**',
                '**/src/api/**',
              ],
              allowTypeImports: true,
              message:
                'Import activities and I/O modules as types only (`import type`); call them via proxyActivities.',
            },
            {
              group: ['**/src/config', '**/src/config/**', '**/src/logger'],
              allowTypeImports: true,
              message:
                'Workflows take configuration as input and log with `log` from @temporalio/workflow.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval'].map(
          (name) => ({
            name,
            message:
              'Use sleep() or condition() from @temporalio/workflow: timers must be durable.',
          }),
        ),
        {
          name: 'process',
          message: 'Workflows must not read process state: pass values in as input.',
        },
        { name: 'fetch', message: 'Workflows do no I/O: call an activity.' },
        { name: 'Buffer', message: 'Buffer is not available in the workflow sandbox.' },
        { name: 'crypto', message: 'Use uuid4() from @temporalio/workflow.' },
        { name: 'require', message: 'Use static imports in workflows.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message:
            'Use the workflow clock deliberately; prefer sleep()/condition() over wall time.',
        },
        {
          object: 'Math',
          property: 'random',
          message: 'Use uuid4() from @temporalio/workflow; randomness breaks replay.',
        },
        {
          object: 'crypto',
          property: 'randomUUID',
          message: 'Use uuid4() from @temporalio/workflow.',
        },
        {
          object: 'performance',
          property: 'now',
          message: 'Workflows have no wall clock; use workflow time.',
        },
        {
          object: 'process',
          property: 'env',
          message: 'Workflows take configuration as input, never from the environment.',
        },
      ],
    },
  },
);
