// The linter guards what the compiler does not: promises nobody waits for, and the layers
// (which folder may import which). Not style: formatting and taste stay out of it.
import { builtinModules } from 'node:module';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// `../api`, `../../api/problems`, …: a relative import that reaches into a sibling top-level folder.
const layer = (name) => `^(\\.\\./)+${name}(/|$)`;

const forbid = (layers, why, allowTypeImports = false) => ({
  regex: layers.length === 1 ? layer(layers[0]) : `^(\\.\\./)+(${layers.join('|')})(/|$)`,
  message: why,
  allowTypeImports,
});

const notApi = forbid(['api'], 'HTTP is the top layer: only api/ imports api/ (domain errors live below it).');

// Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node, no SDK clients; the
// activities, the database and the worker are reached through proxies, so only their types.
const workflowRestrictions = {
  paths: builtinModules
    .filter((name) => !name.startsWith('_'))
    .map((name) => ({ name, message: 'Workflow code is deterministic and bundled for the sandbox: no Node built-ins.' })),
  patterns: [
    { regex: '^node:', message: 'Workflow code is deterministic and bundled for the sandbox: no Node built-ins.' },
    {
      regex: '^(@temporalio/(client|worker|activity|testing)|@kubernetes/client-node|@aws-sdk/[^/]+|postgres|drizzle-orm|fastify|@fastify/[^/]+)(/|$)',
      message: 'Workflow code does no I/O: this belongs in an activity, the worker or the API.',
    },
    forbid(['activities', 'db', 'worker'], 'Workflows reach activities through proxyActivities: import their types only (`import type`).', true),
    notApi,
  ],
};

export default defineConfig(
  globalIgnores([
    '**/node_modules/',
    'dist/',
    'coverage/',
    '.shipyard/',
    'db/migrations/',
    'charts/',
    'testbed/go/',
    // Plain JS (the bootstrap, this file, the failure converter loaded by require): nothing typed to check.
    '**/*.{js,mjs,cjs}',
  ]),
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  // One rule entry per folder (a later entry for the same rule replaces an earlier one, it does not add to it).
  {
    files: ['workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', workflowRestrictions] },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          forbid(['db', 'workflows', 'activities', 'worker', 'lifecycle'], 'domain/ is the bottom layer: pure types and rules, importing nothing of the project above it (not even types).'),
          notApi,
        ],
      }],
    },
  },
  {
    files: ['db/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          forbid(['lifecycle', 'activities', 'workflows', 'worker'], 'db/ sits below the lifecycle, activities, workflows and worker: it imports only domain/.'),
          notApi,
        ],
      }],
    },
  },
  {
    files: ['activities/**/*.ts', 'worker/**/*.ts', 'temporal/**/*.ts', 'lifecycle/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [notApi] }] },
  },
  {
    // The dashboard runs in the browser and talks to the API over HTTP only: none of the server's code.
    files: ['dashboard/src/**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { regex: '^node:', message: 'The dashboard runs in the browser: no Node built-ins.' },
          forbid(['api', 'lifecycle', 'db', 'domain', 'activities', 'workflows', 'worker', 'temporal', 'cli', 'testbed'], 'The dashboard reaches Shipyard through its HTTP API only.'),
        ],
      }],
    },
  },
  {
    files: ['api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [forbid(['worker'], 'The API runs without the worker: it may use lifecycle/, domain/, db/ and temporal/, not worker/.')],
      }],
    },
  },
  {
    // The typed client speaks HTTP only: what it knows of the API comes from the generated types.
    files: ['client/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [forbid(['api', 'lifecycle', 'db', 'domain', 'worker', 'activities', 'workflows', 'temporal', 'cli'], 'The client is built from the OpenAPI document (client/openapi.d.ts), not from server code.')],
      }],
    },
  },
  {
    // The operator's commands reach Shipyard through its API only, like any other client.
    files: ['cli/ops/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [forbid(['api', 'lifecycle', 'db', 'worker', 'activities', 'workflows', 'temporal'], 'The CLI talks to the API through client/, never to its internals.')],
      }],
    },
  },
);
