// Shipyard's settings: read from the environment once at boot, validated, typed, and
// shared by the API and the worker. Nothing else reads process.env.
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { defaultRolloutStrategy, type RolloutSelector, type RolloutStrategy, wavesProblem } from './rollouts';

const Port = Type.Integer({ minimum: 1, maximum: 65535 });

/** One AES-256 key for workflow payloads: its id travels in each payload's metadata, never the key. */
const KEY_ID_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
const EncryptionKeySchema = Type.Object({
  id: Type.String({ pattern: KEY_ID_PATTERN }),
  key: Type.String({ description: 'base64 of exactly 32 bytes' }),
});
export type EncryptionKey = Static<typeof EncryptionKeySchema>;

const ConfigSchema = Type.Object({
  databaseUrl: Type.String({ minLength: 1, description: 'DATABASE_URL: the catalogue database' }),
  tenantDatabaseUrl: Type.String({ minLength: 1, description: 'TENANT_DATABASE_URL: where tenant databases and roles are made' }),
  temporalAddress: Type.String({ minLength: 1 }),
  temporalNamespace: Type.String({ minLength: 1 }),
  taskQueue: Type.String({ minLength: 1 }),
  kubeconfig: Type.Optional(Type.String()),
  route53Endpoint: Type.Optional(Type.String()),
  awsRegion: Type.String({ minLength: 1 }),
  baseDomain: Type.String({ minLength: 3, pattern: '^[a-z0-9.-]+$' }),
  hostedZoneId: Type.String({ minLength: 1 }),
  ingressTarget: Type.String({ minLength: 1 }),
  ingressNamespace: Type.String({ minLength: 1 }),
  ingressClass: Type.String({ minLength: 1 }),
  certIssuer: Type.String({ minLength: 1 }),
  appImage: Type.String({ minLength: 1 }),
  defaultVersion: Type.String({ minLength: 1 }),
  rolloutTimeoutSeconds: Type.Integer({ minimum: 1 }),
  unschedulableGraceSeconds: Type.Integer({ minimum: 1 }),
  reconcileIntervalSeconds: Type.Integer({ minimum: 5 }),
  dnsTtlSeconds: Type.Integer({ minimum: 1 }),
  // At most an hour, so a claim's lease always ends well before its record expires.
  idempotencyLeaseSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
  idempotencyTtlHours: Type.Integer({ minimum: 1 }),
  apiHost: Type.String({ minLength: 1 }),
  apiPort: Port,
  adminKey: Type.Optional(Type.String({ minLength: 16 })),
  /** The first encrypts, all decrypt; empty only when SHIPYARD_ENCRYPTION=off. */
  encryptionKeys: Type.Array(EncryptionKeySchema),
  codecAuth: Type.Union([Type.Literal('none'), Type.Literal('api-key')]),
  codecCorsOrigins: Type.Array(Type.String()),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
  workerMetricsHost: Type.String({ minLength: 1 }),
  workerMetricsPort: Port,
  temporalMetricsPort: Port,
  workerDrainSeconds: Type.Integer({ minimum: 1 }),
  // Quota requests of all instances may add up to this multiple of the cluster's allocatable
  // CPU and memory (1.0: never promise more than the nodes have).
  overcommitRatio: Type.Number({ exclusiveMinimum: 0 }),
  currency: Type.String({ pattern: '^[A-Z]{3}$' }),
  /** Cron spec (UTC unless meteringTimezone) of the hourly metering schedule. */
  meteringCron: Type.String({ minLength: 1 }),
  /** Hours one metering run closes before it continues as new (catch-up after downtime). */
  meteringHoursPerRun: Type.Integer({ minimum: 1 }),
  /** Cron spec of the monthly invoicing schedule, read in invoicingTimezone. */
  invoicingCron: Type.String({ minLength: 1 }),
  invoicingTimezone: Type.String({ minLength: 1 }),
  webhookRetryHours: Type.Integer({ minimum: 1 }),
  webhookAllowPrivate: Type.Boolean(),
  healthIntervalSeconds: Type.Integer({ minimum: 5 }),
  healthParallelism: Type.Integer({ minimum: 1, maximum: 200 }),
  /** Connections the worker may open to the catalogue, and as many to the tenant server: enough for the activities in flight. */
  workerDatabaseConnections: Type.Integer({ minimum: 1, maximum: 200 }),
  certExpiryWarnDays: Type.Integer({ minimum: 0 }),
  healBudget: Type.Integer({ minimum: 0 }),
  orphanCleanup: Type.Boolean(),
  /** HMAC key of the registry webhook; unset = the webhook answers 401 to everything. */
  registryWebhookSecret: Type.Optional(Type.String({ minLength: 16 })),
  /** Tags of SHIPYARD_APP_IMAGE whose push starts a rollout (a regular expression); unset = off. */
  autoRolloutTags: Type.Optional(Type.String({ minLength: 1 })),
  /** The strategy of rollouts the webhook starts. */
  autoRolloutStrategy: Type.Object({
    canary: Type.Integer({ minimum: 0 }),
    waves: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { minItems: 1 }),
    maxParallel: Type.Integer({ minimum: 1 }),
    failureBudget: Type.Integer({ minimum: 0 }),
    pauseAfterCanary: Type.Boolean(),
    waitBetweenWavesSeconds: Type.Integer({ minimum: 0 }),
  }),
  /** Which instances the webhook's rollouts select (e.g. a staging cohort); empty = the whole fleet. */
  autoRolloutSelector: Type.Object({
    plans: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    slugs: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    versions: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  }, { additionalProperties: false }),
  /** History events past which a rollout run continues as new. */
  rolloutHistoryThreshold: Type.Integer({ minimum: 20 }),
  /** How often, and how far apart, a rollout tries again instances that were busy in their wave. */
  rolloutBusyRetries: Type.Integer({ minimum: 0 }),
  rolloutBusyRetrySeconds: Type.Integer({ minimum: 1 }),
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Builds the config from an environment (normally process.env); throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const encryption = encryptionKeysFrom(env);
  const corsOrigins = corsOriginsFrom(env.SHIPYARD_CODEC_CORS_ORIGINS);
  const autoRollout = autoRolloutFrom(env);
  const baseDomain = env.SHIPYARD_BASE_DOMAIN ?? 'apps.shipyard.test';
  const raw = {
    databaseUrl: env.DATABASE_URL,
    tenantDatabaseUrl: env.TENANT_DATABASE_URL,
    temporalAddress: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    temporalNamespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.SHIPYARD_TASK_QUEUE ?? 'shipyard',
    kubeconfig: env.KUBECONFIG || undefined,
    route53Endpoint: env.ROUTE53_ENDPOINT || undefined,
    awsRegion: env.AWS_REGION ?? 'us-east-1',
    baseDomain,
    hostedZoneId: env.SHIPYARD_HOSTED_ZONE_ID,
    ingressTarget: env.SHIPYARD_INGRESS_TARGET ?? `ingress.${baseDomain}`,
    ingressNamespace: env.SHIPYARD_INGRESS_NAMESPACE ?? 'ingress-nginx',
    ingressClass: env.SHIPYARD_INGRESS_CLASS ?? 'nginx',
    certIssuer: env.SHIPYARD_CERT_ISSUER ?? 'shipyard-ca',
    appImage: env.SHIPYARD_APP_IMAGE ?? 'registry.shipyard.test/demo-app',
    defaultVersion: env.SHIPYARD_DEFAULT_VERSION ?? '1.0.0',
    rolloutTimeoutSeconds: integer(env.SHIPYARD_ROLLOUT_TIMEOUT_SECONDS, 600),
    unschedulableGraceSeconds: integer(env.SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS, 60),
    reconcileIntervalSeconds: integer(env.SHIPYARD_RECONCILE_INTERVAL_SECONDS, 60),
    dnsTtlSeconds: integer(env.SHIPYARD_DNS_TTL_SECONDS, 60),
    idempotencyLeaseSeconds: integer(env.SHIPYARD_IDEMPOTENCY_LEASE_SECONDS, 60),
    idempotencyTtlHours: integer(env.SHIPYARD_IDEMPOTENCY_TTL_HOURS, 24),
    apiHost: env.SHIPYARD_API_HOST ?? '127.0.0.1',
    apiPort: integer(env.SHIPYARD_API_PORT, 8080),
    adminKey: env.SHIPYARD_ADMIN_KEY || undefined,
    encryptionKeys: encryption.keys,
    codecAuth: env.SHIPYARD_CODEC_AUTH || 'api-key',
    codecCorsOrigins: corsOrigins.origins,
    logLevel: env.SHIPYARD_LOG_LEVEL || 'info',
    workerMetricsHost: env.SHIPYARD_WORKER_METRICS_HOST ?? '127.0.0.1',
    workerMetricsPort: integer(env.SHIPYARD_WORKER_METRICS_PORT, 9464),
    temporalMetricsPort: integer(env.SHIPYARD_TEMPORAL_METRICS_PORT, 9465),
    workerDrainSeconds: integer(env.SHIPYARD_WORKER_DRAIN_SECONDS, 30),
    overcommitRatio: decimal(env.SHIPYARD_OVERCOMMIT_RATIO, 1),
    currency: env.SHIPYARD_CURRENCY ?? 'USD',
    meteringCron: env.SHIPYARD_METERING_CRON ?? '5 * * * *',
    meteringHoursPerRun: integer(env.SHIPYARD_METERING_HOURS_PER_RUN, 48),
    invoicingCron: env.SHIPYARD_INVOICING_CRON ?? '30 0 1 * *',
    invoicingTimezone: env.SHIPYARD_INVOICING_TIMEZONE ?? 'UTC',
    webhookRetryHours: integer(env.SHIPYARD_WEBHOOK_RETRY_HOURS, 24),
    webhookAllowPrivate: boolean(env.SHIPYARD_WEBHOOK_ALLOW_PRIVATE, false),
    healthIntervalSeconds: integer(env.SHIPYARD_HEALTH_INTERVAL_SECONDS, 300),
    healthParallelism: integer(env.SHIPYARD_HEALTH_PARALLELISM, 20),
    workerDatabaseConnections: integer(env.SHIPYARD_WORKER_DB_CONNECTIONS, 20),
    certExpiryWarnDays: integer(env.SHIPYARD_CERT_EXPIRY_WARN_DAYS, 14),
    healBudget: integer(env.SHIPYARD_HEAL_BUDGET, 3),
    orphanCleanup: boolean(env.SHIPYARD_ORPHAN_CLEANUP, false),
    registryWebhookSecret: env.SHIPYARD_REGISTRY_WEBHOOK_SECRET || undefined,
    autoRolloutTags: env.SHIPYARD_AUTO_ROLLOUT_TAGS || undefined,
    autoRolloutStrategy: autoRollout.strategy,
    autoRolloutSelector: autoRollout.selector,
    rolloutHistoryThreshold: integer(env.SHIPYARD_ROLLOUT_HISTORY_EVENTS, 10_000),
    rolloutBusyRetries: integer(env.SHIPYARD_ROLLOUT_BUSY_RETRIES, 10),
    rolloutBusyRetrySeconds: integer(env.SHIPYARD_ROLLOUT_BUSY_RETRY_SECONDS, 30),
  };
  const errors = [...Value.Errors(ConfigSchema, raw)];
  const ownProblems = [...encryption.problems, ...corsOrigins.problems, ...autoRollout.problems];
  if (errors.length > 0 || ownProblems.length > 0) {
    const schemaLines = errors.map((e) => {
      const key = e.instancePath.slice(1) || String((e.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? '');
      const unset = (raw as Record<string, unknown>)[key] === undefined;
      return `  ${variableFor[key as keyof Config] ?? key}: ${unset ? 'is not set' : e.message}`;
    });
    const lines = [...schemaLines, ...ownProblems.map((p) => `  ${p}`)];
    throw new ConfigError(`invalid Shipyard configuration:\n${[...new Set(lines)].join('\n')}`);
  }
  return raw as Config;
}

/** The environment variable behind each setting, so an error names what the operator must fix. */
const variableFor: Record<keyof Config, string> = {
  databaseUrl: 'DATABASE_URL',
  tenantDatabaseUrl: 'TENANT_DATABASE_URL',
  temporalAddress: 'TEMPORAL_ADDRESS',
  temporalNamespace: 'TEMPORAL_NAMESPACE',
  taskQueue: 'SHIPYARD_TASK_QUEUE',
  kubeconfig: 'KUBECONFIG',
  route53Endpoint: 'ROUTE53_ENDPOINT',
  awsRegion: 'AWS_REGION',
  baseDomain: 'SHIPYARD_BASE_DOMAIN',
  hostedZoneId: 'SHIPYARD_HOSTED_ZONE_ID',
  ingressTarget: 'SHIPYARD_INGRESS_TARGET',
  ingressNamespace: 'SHIPYARD_INGRESS_NAMESPACE',
  ingressClass: 'SHIPYARD_INGRESS_CLASS',
  certIssuer: 'SHIPYARD_CERT_ISSUER',
  appImage: 'SHIPYARD_APP_IMAGE',
  defaultVersion: 'SHIPYARD_DEFAULT_VERSION',
  rolloutTimeoutSeconds: 'SHIPYARD_ROLLOUT_TIMEOUT_SECONDS',
  unschedulableGraceSeconds: 'SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS',
  reconcileIntervalSeconds: 'SHIPYARD_RECONCILE_INTERVAL_SECONDS',
  dnsTtlSeconds: 'SHIPYARD_DNS_TTL_SECONDS',
  idempotencyLeaseSeconds: 'SHIPYARD_IDEMPOTENCY_LEASE_SECONDS',
  idempotencyTtlHours: 'SHIPYARD_IDEMPOTENCY_TTL_HOURS',
  apiHost: 'SHIPYARD_API_HOST',
  apiPort: 'SHIPYARD_API_PORT',
  adminKey: 'SHIPYARD_ADMIN_KEY',
  encryptionKeys: 'SHIPYARD_ENCRYPTION_KEYS',
  codecAuth: 'SHIPYARD_CODEC_AUTH',
  codecCorsOrigins: 'SHIPYARD_CODEC_CORS_ORIGINS',
  logLevel: 'SHIPYARD_LOG_LEVEL',
  workerMetricsHost: 'SHIPYARD_WORKER_METRICS_HOST',
  workerMetricsPort: 'SHIPYARD_WORKER_METRICS_PORT',
  temporalMetricsPort: 'SHIPYARD_TEMPORAL_METRICS_PORT',
  workerDrainSeconds: 'SHIPYARD_WORKER_DRAIN_SECONDS',
  overcommitRatio: 'SHIPYARD_OVERCOMMIT_RATIO',
  currency: 'SHIPYARD_CURRENCY',
  meteringCron: 'SHIPYARD_METERING_CRON',
  meteringHoursPerRun: 'SHIPYARD_METERING_HOURS_PER_RUN',
  invoicingCron: 'SHIPYARD_INVOICING_CRON',
  invoicingTimezone: 'SHIPYARD_INVOICING_TIMEZONE',
  webhookRetryHours: 'SHIPYARD_WEBHOOK_RETRY_HOURS',
  webhookAllowPrivate: 'SHIPYARD_WEBHOOK_ALLOW_PRIVATE',
  healthIntervalSeconds: 'SHIPYARD_HEALTH_INTERVAL_SECONDS',
  healthParallelism: 'SHIPYARD_HEALTH_PARALLELISM',
  workerDatabaseConnections: 'SHIPYARD_WORKER_DB_CONNECTIONS',
  certExpiryWarnDays: 'SHIPYARD_CERT_EXPIRY_WARN_DAYS',
  healBudget: 'SHIPYARD_HEAL_BUDGET',
  orphanCleanup: 'SHIPYARD_ORPHAN_CLEANUP',
  registryWebhookSecret: 'SHIPYARD_REGISTRY_WEBHOOK_SECRET',
  autoRolloutTags: 'SHIPYARD_AUTO_ROLLOUT_TAGS',
  autoRolloutStrategy: 'SHIPYARD_AUTO_ROLLOUT_STRATEGY',
  autoRolloutSelector: 'SHIPYARD_AUTO_ROLLOUT_SELECTOR',
  rolloutHistoryThreshold: 'SHIPYARD_ROLLOUT_HISTORY_EVENTS',
  rolloutBusyRetries: 'SHIPYARD_ROLLOUT_BUSY_RETRIES',
  rolloutBusyRetrySeconds: 'SHIPYARD_ROLLOUT_BUSY_RETRY_SECONDS',
};

const KEY_BYTES = 32;
const KEY_ENTRY = '`<id>:<base64 of 32 random bytes>`';
const KEYS_FORMAT = `${KEY_ENTRY} entries separated by commas (e.g. \`k1:$(openssl rand -base64 32)\`)`;

/**
 * SHIPYARD_ENCRYPTION_KEYS parsed and checked. Workflow payloads are encrypted unless an operator
 * says SHIPYARD_ENCRYPTION=off on purpose: a forgotten key must stop the process, not quietly
 * write customer data in clear. Problems name the entry and its id, never key material.
 */
function encryptionKeysFrom(env: Record<string, string | undefined>): { keys: EncryptionKey[]; problems: string[] } {
  const mode = env.SHIPYARD_ENCRYPTION || 'on';
  const listed = (env.SHIPYARD_ENCRYPTION_KEYS ?? '').trim();
  if (mode !== 'on' && mode !== 'off') return { keys: [], problems: ['SHIPYARD_ENCRYPTION: must be "on" (the default) or "off"'] };
  if (mode === 'off') {
    return listed
      ? { keys: [], problems: ['SHIPYARD_ENCRYPTION_KEYS: is set while SHIPYARD_ENCRYPTION=off; unset one of the two'] }
      : { keys: [], problems: [] };
  }
  if (!listed) {
    return {
      keys: [],
      problems: [`SHIPYARD_ENCRYPTION_KEYS: is not set; workflow payloads are encrypted, give ${KEYS_FORMAT}, or set SHIPYARD_ENCRYPTION=off (development only)`],
    };
  }
  const keys: EncryptionKey[] = [];
  const problems: string[] = [];
  listed.split(',').forEach((entry, index) => {
    const where = `SHIPYARD_ENCRYPTION_KEYS: entry ${index + 1}`;
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon).trim();
    const key = colon < 0 ? '' : entry.slice(colon + 1).trim();
    if (!id || !key) return void problems.push(`${where} is not ${KEY_ENTRY}`);
    if (!new RegExp(KEY_ID_PATTERN).test(id)) {
      return void problems.push(`${where}: key id "${id}" may only hold letters, digits, ".", "_" and "-" (at most 64)`);
    }
    if (keys.some((k) => k.id === id)) return void problems.push(`${where}: key id "${id}" is listed twice`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length !== KEY_BYTES) {
      return void problems.push(`${where} (key id "${id}"): the key must be base64 of exactly ${KEY_BYTES} bytes`);
    }
    keys.push({ id, key });
  });
  return { keys, problems };
}

/** Browser origins allowed to call the codec endpoint: exact `scheme://host[:port]` values, never `*`. */
function corsOriginsFrom(raw: string | undefined): { origins: string[]; problems: string[] } {
  const origins = (raw ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  const problems = origins
    .filter((o) => !/^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(o))
    .map((o) =>
      o === '*'
        ? 'SHIPYARD_CODEC_CORS_ORIGINS: "*" is not allowed; list the origins of your Temporal UI'
        : `SHIPYARD_CODEC_CORS_ORIGINS: "${o}" is not an origin (scheme://host[:port], no path or trailing slash)`,
    );
  return { origins, problems };
}

/**
 * SHIPYARD_AUTO_ROLLOUT_TAGS must compile, SHIPYARD_AUTO_ROLLOUT_STRATEGY (JSON, any of the
 * strategy's fields) is laid over the default strategy, SHIPYARD_AUTO_ROLLOUT_SELECTOR is JSON;
 * the schema checks the results.
 */
function autoRolloutFrom(env: Record<string, string | undefined>): { strategy: RolloutStrategy; selector: RolloutSelector; problems: string[] } {
  const problems: string[] = [];
  if (env.SHIPYARD_AUTO_ROLLOUT_TAGS) {
    try {
      new RegExp(env.SHIPYARD_AUTO_ROLLOUT_TAGS);
    } catch (err) {
      problems.push(`SHIPYARD_AUTO_ROLLOUT_TAGS: is not a regular expression (${(err as Error).message})`);
    }
  }
  let strategy: RolloutStrategy = { ...defaultRolloutStrategy };
  if (env.SHIPYARD_AUTO_ROLLOUT_STRATEGY) {
    try {
      const given: unknown = JSON.parse(env.SHIPYARD_AUTO_ROLLOUT_STRATEGY);
      if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new Error('not a JSON object');
      strategy = { ...strategy, ...(given as Partial<RolloutStrategy>) };
    } catch (err) {
      problems.push(`SHIPYARD_AUTO_ROLLOUT_STRATEGY: must be a JSON object of strategy fields (${(err as Error).message})`);
    }
  }
  const waves = Array.isArray(strategy.waves) ? wavesProblem(strategy.waves) : undefined;
  if (waves) problems.push(`SHIPYARD_AUTO_ROLLOUT_STRATEGY: waves ${waves}`);
  let selector: RolloutSelector = {};
  if (env.SHIPYARD_AUTO_ROLLOUT_SELECTOR) {
    try {
      selector = JSON.parse(env.SHIPYARD_AUTO_ROLLOUT_SELECTOR) as RolloutSelector;
    } catch (err) {
      problems.push(`SHIPYARD_AUTO_ROLLOUT_SELECTOR: must be a JSON object like {"plans":["starter"]} (${(err as Error).message})`);
    }
  }
  return { strategy, selector, problems };
}

function integer(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  return /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
}

function decimal(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  return /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
}

/** `true` or `false`; anything else is kept as text so validation names the variable. */
function boolean(raw: string | undefined, fallback: boolean): boolean | string {
  if (raw === undefined || raw === '') return fallback;
  return raw === 'true' ? true : raw === 'false' ? false : raw;
}
