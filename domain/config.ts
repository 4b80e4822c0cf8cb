// Shipyard's settings: read from the environment once at boot, validated, typed, and
// shared by the API and the worker. Nothing else reads process.env. Each setting is declared
// once below (variable, schema, default, meaning); the Config type, the reading of the
// environment and the README's table (`npm run docs:config`) all follow from that list.
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { defaultRolloutStrategy, type RolloutSelector, type RolloutStrategy, wavesProblem } from './rollouts';
import { type Env, Port, type Read, readSetting, type Setting, schemasOf, setting } from './settings';
import { readTemporalProfile, type TemporalProfile, TemporalProfileSchema, temporalProfileVariables } from './temporal-profile';
import { regionPattern } from './validation';

/** One AES-256 key for workflow payloads: its id travels in each payload's metadata, never the key. */
const KEY_ID_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
const EncryptionKeySchema = Type.Object({
  id: Type.String({ pattern: KEY_ID_PATTERN }),
  key: Type.String({ description: 'base64 of exactly 32 bytes' }),
});
export type EncryptionKey = Static<typeof EncryptionKeySchema>;

const text = Type.String({ minLength: 1 });

export const settings = {
  databaseUrl: setting({ env: 'DATABASE_URL', schema: text, doc: 'the catalogue database (a PostgreSQL URL)' }),
  tenantDatabaseUrl: setting({
    env: 'TENANT_DATABASE_URL',
    schema: text,
    doc: 'a role with `CREATEDB CREATEROLE` on the server where tenant databases and roles are made (see above for keeping tenants apart)',
  }),
  // Temporal's standard client configuration (domain/temporal-profile.ts), read here once like
  // every setting and kept whole in the Config (one setting for what envconfig resolves, rather
  // than one per TEMPORAL_TLS_* variable: it merges the TOML profile and the variables its own
  // way, as the CLI does). Declared before TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE, whose
  // defaults are the profile's; every connection's options come from these three
  // (temporal/connection.ts).
  temporalProfile: setting({
    env: 'TEMPORAL_PROFILE',
    schema: TemporalProfileSchema,
    parse: readTemporalProfile,
    defaultDoc: '`default`',
    doc: 'the profile of the Temporal client configuration file that Shipyard connects with (address, namespace, API key, TLS); the `TEMPORAL_*` variables below win over it',
    alongside: temporalProfileVariables,
  }),
  temporalAddress: setting({
    env: 'TEMPORAL_ADDRESS',
    schema: text,
    default: (earlier) => (earlier.temporalProfile as TemporalProfile | undefined)?.address || '127.0.0.1:7233',
    defaultDoc: "the profile's `address`, else `127.0.0.1:7233`",
    doc: 'the Temporal frontend (gRPC `host:port`)',
  }),
  temporalNamespace: setting({
    env: 'TEMPORAL_NAMESPACE',
    schema: text,
    default: (earlier) => (earlier.temporalProfile as TemporalProfile | undefined)?.namespace || 'default',
    defaultDoc: "the profile's `namespace`, else `default`",
    doc: "the Temporal namespace of Shipyard's workflows and schedules",
  }),
  taskQueue: setting({ env: 'SHIPYARD_TASK_QUEUE', schema: text, default: 'shipyard', doc: 'Temporal task queue of the worker' }),
  cluster: setting({
    env: 'SHIPYARD_CLUSTER',
    schema: Type.Optional(Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' })),
    defaultDoc: '— (a single-cluster install)',
    doc: "a cluster worker's cluster (`shipyard worker --cluster <name>` sets it): the worker serves only the activities that touch this cluster (Kubernetes, the tenant database) on the task queue `<SHIPYARD_TASK_QUEUE>@<name>`, and registers the cluster at start (see docs/multi-cluster.md)",
  }),
  clusterRegion: setting({
    env: 'SHIPYARD_CLUSTER_REGION',
    schema: Type.String({ minLength: 1, maxLength: 64, pattern: regionPattern }),
    default: 'default',
    doc: "a cluster worker's region, which `POST /v1/instances` places by (`region`)",
  }),
  clusterLabels: setting({
    env: 'SHIPYARD_CLUSTER_LABELS',
    schema: Type.String(),
    default: '',
    defaultDoc: '— (none)',
    doc: "a cluster worker's labels, `key=value,key=value`, shown by `GET /v1/clusters`",
  }),
  clusterReportSeconds: setting({
    env: 'SHIPYARD_CLUSTER_REPORT_SECONDS',
    schema: Type.Integer({ minimum: 5 }),
    default: 30,
    doc: 'how often the `shipyard-cluster-reports` schedule has every cluster worker report its capacity; a cluster with no report for three periods is `offline`',
  }),
  kubeconfig: setting({
    env: 'KUBECONFIG',
    schema: Type.Optional(Type.String()),
    doc: "kubeconfig file of the cluster instances run in; unset, the Kubernetes client's usual search (`~/.kube/config`, or the pod's service account in a cluster)",
  }),
  route53Endpoint: setting({
    env: 'ROUTE53_ENDPOINT',
    schema: Type.Optional(Type.String()),
    defaultDoc: "— (the AWS SDK's own)",
    doc: "Route 53 API endpoint (the testbed's moto server); credentials come from the AWS SDK's usual sources (`AWS_ACCESS_KEY_ID`, ...)",
  }),
  awsRegion: setting({ env: 'AWS_REGION', schema: text, default: 'us-east-1', doc: 'region of the Route 53 client' }),
  baseDomain: setting({
    env: 'SHIPYARD_BASE_DOMAIN',
    schema: Type.String({ minLength: 3, pattern: '^[a-z0-9.-]+$' }),
    default: 'apps.shipyard.test',
    doc: 'instances are `<slug>.<base domain>`',
  }),
  hostedZoneId: setting({ env: 'SHIPYARD_HOSTED_ZONE_ID', schema: text, doc: 'Route 53 zone of the base domain' }),
  ingressTarget: setting({
    env: 'SHIPYARD_INGRESS_TARGET',
    schema: text,
    default: (earlier) => `ingress.${String(earlier.baseDomain)}`,
    defaultDoc: '`ingress.<base domain>`',
    doc: 'CNAME target of every instance record',
  }),
  ingressNamespace: setting({
    env: 'SHIPYARD_INGRESS_NAMESPACE',
    schema: text,
    default: 'ingress-nginx',
    doc: "namespace of the ingress controller, allowed through each tenant's network policy; with `SHIPYARD_TLS_MODE=wildcard` the wildcard certificate is kept there (it must exist)",
  }),
  ingressClass: setting({ env: 'SHIPYARD_INGRESS_CLASS', schema: text, default: 'nginx', doc: 'Ingress class of instance Ingresses' }),
  certIssuer: setting({ env: 'SHIPYARD_CERT_ISSUER', schema: text, default: 'shipyard-ca', doc: 'cert-manager `ClusterIssuer` for instance certificates (with `SHIPYARD_TLS_MODE=wildcard`, for the wildcard: it must solve DNS-01)' }),
  appImage: setting({
    env: 'SHIPYARD_APP_IMAGE',
    schema: text,
    default: 'registry.shipyard.test/demo-app',
    doc: "the app image repository; an instance's version is its tag",
  }),
  defaultVersion: setting({ env: 'SHIPYARD_DEFAULT_VERSION', schema: text, default: '1.0.0', doc: 'version when a create request names none' }),
  rolloutTimeoutSeconds: setting({
    env: 'SHIPYARD_ROLLOUT_TIMEOUT_SECONDS',
    schema: Type.Integer({ minimum: 1 }),
    default: 600,
    doc: 'how long provision/upgrade/resume wait for a rollout before rolling back',
  }),
  unschedulableGraceSeconds: setting({
    env: 'SHIPYARD_UNSCHEDULABLE_GRACE_SECONDS',
    schema: Type.Integer({ minimum: 1 }),
    default: 60,
    doc: "a rollout whose new pods find no node (the scheduler's `Unschedulable`) for this long fails early (`Unschedulable`) instead of waiting out the rollout timeout",
  }),
  reconcileIntervalSeconds: setting({
    env: 'SHIPYARD_RECONCILE_INTERVAL_SECONDS',
    schema: Type.Integer({ minimum: 5 }),
    default: 60,
    doc: 'how often the `shipyard-reconcile` schedule settles operations whose runs closed without recording their result (see "Statuses that stay true")',
  }),
  dnsTtlSeconds: setting({ env: 'SHIPYARD_DNS_TTL_SECONDS', schema: Type.Integer({ minimum: 1 }), default: 60, doc: 'TTL of instance records' }),
  // At most an hour, so a claim's lease always ends well before its record expires.
  idempotencyLeaseSeconds: setting({
    env: 'SHIPYARD_IDEMPOTENCY_LEASE_SECONDS',
    schema: Type.Integer({ minimum: 1, maximum: 3600 }),
    default: 60,
    doc: 'after this, a claim on an `Idempotency-Key` whose request never answered may be taken over by a retry of that request',
  }),
  idempotencyTtlHours: setting({
    env: 'SHIPYARD_IDEMPOTENCY_TTL_HOURS',
    schema: Type.Integer({ minimum: 1 }),
    default: 24,
    doc: 'how long an `Idempotency-Key` and its response are remembered',
  }),
  apiHost: setting({
    env: 'SHIPYARD_API_HOST',
    schema: text,
    default: '127.0.0.1',
    doc: 'the address the API listens on (the image sets `0.0.0.0`)',
  }),
  apiPort: setting({ env: 'SHIPYARD_API_PORT', schema: Port, default: 8080, doc: 'the port the API listens on' }),
  adminKey: setting({
    env: 'SHIPYARD_ADMIN_KEY',
    schema: Type.Optional(Type.String({ minLength: 16 })),
    doc: 'accepted as an admin API key (bootstrap); more keys via `POST /v1/api-keys`',
  }),
  /** The first encrypts, all decrypt; empty only when SHIPYARD_ENCRYPTION=off. */
  encryptionKeys: setting({
    env: 'SHIPYARD_ENCRYPTION_KEYS',
    schema: Type.Array(EncryptionKeySchema),
    parse: encryptionKeys,
    defaultDoc: '— (required)',
    doc: '`<id>:<base64 of 32 bytes>`, comma-separated: keys that encrypt workflow payloads; the first encrypts, all decrypt',
    alongside: [{
      env: 'SHIPYARD_ENCRYPTION',
      defaultDoc: '`on`',
      doc: '`off` runs without payload encryption (development only; then `SHIPYARD_ENCRYPTION_KEYS` must be unset)',
    }],
  }),
  codecAuth: setting({
    env: 'SHIPYARD_CODEC_AUTH',
    schema: Type.Union([Type.Literal('none'), Type.Literal('api-key')]),
    default: 'api-key',
    doc: 'who may use the codec endpoint: `api-key` (a Shipyard key in `Authorization`) or `none`',
  }),
  codecCorsOrigins: setting({
    env: 'SHIPYARD_CODEC_CORS_ORIGINS',
    schema: Type.Array(Type.String()),
    parse: corsOrigins,
    defaultDoc: '— (no browser)',
    doc: 'comma-separated origins of the Temporal UI(s) allowed to call the codec endpoint (`https://temporal.example.com`); never `*`',
  }),
  logLevel: setting({
    env: 'SHIPYARD_LOG_LEVEL',
    // Spelled out, not mapped from a list: a mapped list made the type `never`.
    schema: Type.Union([
      Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'),
      Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent'),
    ]),
    default: 'info',
    doc: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`',
  }),
  workerMetricsHost: setting({
    env: 'SHIPYARD_WORKER_METRICS_HOST',
    schema: text,
    default: '127.0.0.1',
    doc: "the address of the worker's `/metrics` and `/healthz` (the image sets `0.0.0.0`)",
  }),
  workerMetricsPort: setting({ env: 'SHIPYARD_WORKER_METRICS_PORT', schema: Port, default: 9464, doc: "the port of the worker's `/metrics` and `/healthz`" }),
  temporalMetricsPort: setting({
    env: 'SHIPYARD_TEMPORAL_METRICS_PORT',
    schema: Port,
    default: 9465,
    doc: "loopback port where the Temporal SDK serves its own metrics; the worker's `/metrics` includes them",
  }),
  workerDrainSeconds: setting({
    env: 'SHIPYARD_WORKER_DRAIN_SECONDS',
    schema: Type.Integer({ minimum: 1 }),
    default: 30,
    doc: 'after SIGTERM, how long running activities may finish before they are cancelled',
  }),
  // 1.0: never promise more than the nodes have.
  overcommitRatio: setting({
    env: 'SHIPYARD_OVERCOMMIT_RATIO',
    schema: Type.Number({ exclusiveMinimum: 0 }),
    default: 1,
    defaultDoc: '`1.0`',
    doc: 'the quota requests (CPU, memory) of all instances may add up to this multiple of the nodes\' allocatable; checked before a provision and a plan change (see "Plans, metering and usage")',
  }),
  currency: setting({
    env: 'SHIPYARD_CURRENCY',
    schema: Type.String({ pattern: '^[A-Z]{3}$' }),
    default: 'USD',
    doc: 'the currency amounts and invoices are in (ISO 4217 code)',
  }),
  meteringCron: setting({
    env: 'SHIPYARD_METERING_CRON',
    schema: text,
    default: '5 * * * *',
    doc: 'when the `shipyard-metering` schedule runs (UTC): a few minutes past every hour',
  }),
  meteringHoursPerRun: setting({
    env: 'SHIPYARD_METERING_HOURS_PER_RUN',
    schema: Type.Integer({ minimum: 1 }),
    default: 48,
    doc: 'hours one metering run closes before it continues as new (a long catch-up keeps a short history)',
  }),
  invoicingCron: setting({
    env: 'SHIPYARD_INVOICING_CRON',
    schema: text,
    default: '30 0 1 * *',
    doc: 'when the `shipyard-invoicing` schedule runs (day 1, 00:30), in `SHIPYARD_INVOICING_TIMEZONE`',
  }),
  invoicingTimezone: setting({ env: 'SHIPYARD_INVOICING_TIMEZONE', schema: text, default: 'UTC', doc: 'the time zone of `SHIPYARD_INVOICING_CRON`' }),
  webhookRetryHours: setting({
    env: 'SHIPYARD_WEBHOOK_RETRY_HOURS',
    schema: Type.Integer({ minimum: 1 }),
    default: 24,
    doc: 'how long a webhook delivery is retried (exponential backoff, 5 s doubling up to 1 h apart) before it is marked `failed`',
  }),
  webhookAllowPrivate: setting({
    env: 'SHIPYARD_WEBHOOK_ALLOW_PRIVATE',
    schema: Type.Boolean(),
    default: false,
    doc: "`true` lets webhooks target private, loopback and link-local addresses (the testbed's `.shipyard/env` sets it: everything there is on 127.0.0.1)",
  }),
  healthIntervalSeconds: setting({
    env: 'SHIPYARD_HEALTH_INTERVAL_SECONDS',
    schema: Type.Integer({ minimum: 5 }),
    default: 300,
    doc: 'how often the `shipyard-health-sweep` schedule checks the fleet (see "Health")',
  }),
  healthParallelism: setting({
    env: 'SHIPYARD_HEALTH_PARALLELISM',
    schema: Type.Integer({ minimum: 1, maximum: 200 }),
    default: 20,
    doc: 'instances a sweep checks at once',
  }),
  workerDatabaseConnections: setting({
    env: 'SHIPYARD_WORKER_DB_CONNECTIONS',
    schema: Type.Integer({ minimum: 1, maximum: 200 }),
    default: 20,
    doc: 'connections a worker may open to the catalogue, and as many to the tenant Postgres server; with many operations in flight their activities wait for one',
  }),
  certExpiryWarnDays: setting({
    env: 'SHIPYARD_CERT_EXPIRY_WARN_DAYS',
    schema: Type.Integer({ minimum: 0 }),
    default: 14,
    doc: 'a certificate expiring sooner makes its instance `degraded`',
  }),
  healBudget: setting({
    env: 'SHIPYARD_HEAL_BUDGET',
    schema: Type.Integer({ minimum: 0 }),
    default: 3,
    doc: 'heals per instance per 24 h; past it the sweep only reports (and alerts)',
  }),
  orphanCleanup: setting({
    env: 'SHIPYARD_ORPHAN_CLEANUP',
    schema: Type.Boolean(),
    default: false,
    doc: '`true`: each sweep removes the orphans it finds (see "Health")',
  }),
  registryWebhookSecret: setting({
    env: 'SHIPYARD_REGISTRY_WEBHOOK_SECRET',
    schema: Type.Optional(Type.String({ minLength: 16 })),
    defaultDoc: '— (webhook answers 401)',
    doc: 'HMAC key the registry signs `POST /v1/hooks/registry` with (at least 16 characters)',
  }),
  autoRolloutTags: setting({
    env: 'SHIPYARD_AUTO_ROLLOUT_TAGS',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    parse: rolloutTags,
    defaultDoc: '— (off)',
    doc: 'a regular expression: a pushed tag of `SHIPYARD_APP_IMAGE` that matches it starts a rollout (e.g. `^\\d+\\.\\d+\\.\\d+$`)',
  }),
  autoRolloutStrategy: setting({
    env: 'SHIPYARD_AUTO_ROLLOUT_STRATEGY',
    schema: Type.Object({
      canary: Type.Integer({ minimum: 0 }),
      waves: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { minItems: 1 }),
      maxParallel: Type.Integer({ minimum: 1 }),
      failureBudget: Type.Integer({ minimum: 0 }),
      pauseAfterCanary: Type.Boolean(),
      waitBetweenWavesSeconds: Type.Integer({ minimum: 0 }),
    }),
    parse: rolloutStrategy,
    defaultDoc: `\`${JSON.stringify(defaultRolloutStrategy)}\``,
    doc: 'JSON, any strategy fields, laid over the default strategy for the webhook\'s rollouts (e.g. `{"canary":2,"failureBudget":1}`)',
  }),
  autoRolloutSelector: setting({
    env: 'SHIPYARD_AUTO_ROLLOUT_SELECTOR',
    schema: Type.Object({
      plans: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
      slugs: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
      versions: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    }, { additionalProperties: false }),
    parse: rolloutSelector,
    defaultDoc: '`{}` (whole fleet)',
    doc: 'JSON selector of the instances the webhook\'s rollouts take, e.g. a staging cohort (`{"plans":["starter"]}`)',
  }),
  backupBucket: setting({
    env: 'SHIPYARD_BACKUP_BUCKET',
    schema: Type.String({ minLength: 3, maxLength: 63, pattern: '^[a-z0-9][a-z0-9.-]+[a-z0-9]$' }),
    doc: 'the S3 bucket backups are written to (it must exist; the testbed makes `shipyard-backups`)',
  }),
  backupPrefix: setting({
    env: 'SHIPYARD_BACKUP_PREFIX',
    schema: Type.String({ maxLength: 200, pattern: '^([A-Za-z0-9._-]+/)*$' }),
    default: 'backups/',
    doc: 'key prefix of every backup object (`<prefix><instance id>/<backup id>/…`); empty or ending in `/`',
  }),
  s3Endpoint: setting({
    env: 'SHIPYARD_S3_ENDPOINT',
    schema: Type.Optional(Type.String()),
    defaultDoc: '— (AWS)',
    doc: "an S3-compatible endpoint (the testbed's, MinIO, R2...), addressed path-style; credentials come from the AWS SDK's usual sources",
  }),
  pgBinDir: setting({
    env: 'SHIPYARD_PG_BIN_DIR',
    schema: Type.Optional(Type.String({ minLength: 1 })),
    defaultDoc: '— (`PATH`)',
    doc: "where the worker finds `pg_dump` and `pg_restore`, of the tenant server's major version or newer (the image installs them)",
  }),
  deleteGraceHours: setting({
    env: 'SHIPYARD_DELETE_GRACE_HOURS',
    schema: Type.Number({ minimum: 0, maximum: 8760 }),
    default: 72,
    doc: 'how long a deleted instance waits, scaled to zero with its final backup taken, before it is purged; an undelete meanwhile brings it back (`0`: purge right after the final backup)',
  }),
  finalBackupRetentionDays: setting({
    env: 'SHIPYARD_FINAL_BACKUP_RETENTION_DAYS',
    schema: Type.Integer({ minimum: 1 }),
    default: 30,
    doc: "how long an instance's final backup is kept after its purge (a clone from it brings the customer back)",
  }),
  backupSweepIntervalSeconds: setting({
    env: 'SHIPYARD_BACKUP_SWEEP_INTERVAL_SECONDS',
    schema: Type.Integer({ minimum: 5 }),
    default: 900,
    doc: 'how often the `shipyard-backups` schedule starts the backups that are due and lets go what retention allows',
  }),
  backupParallelism: setting({
    env: 'SHIPYARD_BACKUP_PARALLELISM',
    schema: Type.Integer({ minimum: 1, maximum: 100 }),
    default: 4,
    doc: 'scheduled backups a sweep runs at once',
  }),
  tlsMode: setting({
    env: 'SHIPYARD_TLS_MODE',
    schema: Type.Union([Type.Literal('per-instance'), Type.Literal('wildcard')]),
    default: 'per-instance',
    doc: '`per-instance`: a certificate per instance; `wildcard`: one certificate for `*.<base domain>` that every instance\'s ingress serves (a public CA\'s per-domain limits; see "Production checklist")',
  }),
  rotateAfterDays: setting({
    env: 'SHIPYARD_ROTATE_AFTER_DAYS',
    schema: Type.Optional(Type.Integer({ minimum: 1 })),
    defaultDoc: '— (no scheduled rotation)',
    doc: "the `shipyard-rotate-credentials` schedule rotates the credentials of instances whose database password and app secret are older than this",
  }),
  rateLimitViewer: setting({
    env: 'SHIPYARD_RATE_LIMIT_VIEWER',
    schema: Type.Integer({ minimum: 1 }),
    default: 600,
    doc: 'requests a minute an API key with the viewer role may make (beyond: 429 with `Retry-After`)',
  }),
  rateLimitOperator: setting({ env: 'SHIPYARD_RATE_LIMIT_OPERATOR', schema: Type.Integer({ minimum: 1 }), default: 300, doc: 'the same for an operator key' }),
  rateLimitAdmin: setting({ env: 'SHIPYARD_RATE_LIMIT_ADMIN', schema: Type.Integer({ minimum: 1 }), default: 300, doc: 'the same for an admin key' }),
  rolloutHistoryThreshold: setting({
    env: 'SHIPYARD_ROLLOUT_HISTORY_EVENTS',
    schema: Type.Integer({ minimum: 20 }),
    default: 10_000,
    doc: "history events after which a rollout run continues as new (Temporal's own suggestion also triggers it)",
  }),
  rolloutBusyRetries: setting({
    env: 'SHIPYARD_ROLLOUT_BUSY_RETRIES',
    schema: Type.Integer({ minimum: 0 }),
    default: 10,
    doc: 'how often a rollout tries again instances that were busy with another operation in their wave, before reporting them `skipped`',
  }),
  rolloutBusyRetrySeconds: setting({
    env: 'SHIPYARD_ROLLOUT_BUSY_RETRY_SECONDS',
    schema: Type.Integer({ minimum: 1 }),
    default: 30,
    doc: 'how far apart those tries are',
  }),
  temporalUiUrl: setting({
    env: 'SHIPYARD_TEMPORAL_UI_URL',
    schema: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
    defaultDoc: '— (no links)',
    doc: "the Temporal UI's address (e.g. `http://127.0.0.1:8233`): operations and rollouts in the API then carry a `temporalUiUrl` to their run",
  }),
  streamKeepAliveSeconds: setting({
    env: 'SHIPYARD_STREAM_KEEPALIVE_SECONDS',
    schema: Type.Integer({ minimum: 1, maximum: 300 }),
    default: 15,
    doc: 'how often an idle event stream (`…/events`, Server-Sent Events) sends a `: keep-alive` comment, so proxies keep it open',
  }),
};

const ConfigSchema = Type.Object(schemasOf(settings));

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Builds the config from an environment (normally process.env); throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env): Config {
  const raw: Record<string, unknown> = {};
  const ownProblems: string[] = [];
  for (const [key, s] of Object.entries(settings)) {
    const read = readSetting(s, env, raw);
    raw[key] = read.value;
    ownProblems.push(...(read.problems ?? []));
  }
  // The check is what makes raw a Config: no cast, so a setting the schema does not cover cannot slip through.
  if (ownProblems.length === 0 && Value.Check(ConfigSchema, raw)) return raw;
  const byKey: Readonly<Record<string, Setting>> = settings;
  const schemaLines = [...Value.Errors(ConfigSchema, raw)].map((e) => {
    const [key = '', ...inside] = e.instancePath.slice(1).split('/');
    const name = key || String((e.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? '');
    const variable = byKey[name]?.env ?? name;
    // A field inside a JSON setting is named after the variable; only a whole setting can be unset.
    // (`schema is false` is TypeBox's word for a field the object does not allow.)
    if (inside.length > 0) return `  ${variable}: ${inside.join('.')} ${e.keyword === 'boolean' ? 'is not a known field' : e.message}`;
    return `  ${variable}: ${raw[name] === undefined ? 'is not set' : e.message}`;
  });
  const lines = [...schemaLines, ...ownProblems.map((p) => `  ${p}`)];
  throw new ConfigError(`invalid Shipyard configuration:\n${[...new Set(lines)].join('\n')}`);
}

const KEY_BYTES = 32;
const KEY_ENTRY = '`<id>:<base64 of 32 random bytes>`';
const KEYS_FORMAT = `${KEY_ENTRY} entries separated by commas (e.g. \`k1:$(openssl rand -base64 32)\`)`;

/**
 * SHIPYARD_ENCRYPTION_KEYS parsed and checked. Workflow payloads are encrypted unless an operator
 * says SHIPYARD_ENCRYPTION=off on purpose: a forgotten key must stop the process, not quietly
 * write customer data in clear. Problems name the entry and its id, never key material.
 */
function encryptionKeys(raw: string | undefined, env: Env): Read {
  const mode = env.SHIPYARD_ENCRYPTION || 'on';
  const listed = (raw ?? '').trim();
  if (mode !== 'on' && mode !== 'off') return { value: [], problems: ['SHIPYARD_ENCRYPTION: must be "on" (the default) or "off"'] };
  if (mode === 'off') {
    return listed
      ? { value: [], problems: ['SHIPYARD_ENCRYPTION_KEYS: is set while SHIPYARD_ENCRYPTION=off; unset one of the two'] }
      : { value: [] };
  }
  if (!listed) {
    return {
      value: [],
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
  return { value: keys, problems };
}

/** Browser origins allowed to call the codec endpoint: exact `scheme://host[:port]` values, never `*`. */
function corsOrigins(raw: string | undefined): Read {
  const origins = (raw ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  const problems = origins
    .filter((o) => !/^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(o))
    .map((o) =>
      o === '*'
        ? 'SHIPYARD_CODEC_CORS_ORIGINS: "*" is not allowed; list the origins of your Temporal UI'
        : `SHIPYARD_CODEC_CORS_ORIGINS: "${o}" is not an origin (scheme://host[:port], no path or trailing slash)`,
    );
  return { value: origins, problems };
}

/** SHIPYARD_AUTO_ROLLOUT_TAGS must compile: a typo must not quietly match no tag at all. */
function rolloutTags(raw: string | undefined): Read {
  if (!raw) return { value: undefined };
  try {
    new RegExp(raw);
    return { value: raw };
  } catch (err) {
    return { value: raw, problems: [`SHIPYARD_AUTO_ROLLOUT_TAGS: is not a regular expression (${(err as Error).message})`] };
  }
}

/** SHIPYARD_AUTO_ROLLOUT_STRATEGY (JSON, any of the strategy's fields) laid over the default strategy; the schema checks the result. */
function rolloutStrategy(raw: string | undefined): Read {
  const problems: string[] = [];
  let strategy: RolloutStrategy = { ...defaultRolloutStrategy };
  if (raw) {
    try {
      const given: unknown = JSON.parse(raw);
      if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new Error('not a JSON object');
      strategy = { ...strategy, ...(given as Partial<RolloutStrategy>) };
    } catch (err) {
      problems.push(`SHIPYARD_AUTO_ROLLOUT_STRATEGY: must be a JSON object of strategy fields (${(err as Error).message})`);
    }
  }
  const waves = Array.isArray(strategy.waves) ? wavesProblem(strategy.waves) : undefined;
  if (waves) problems.push(`SHIPYARD_AUTO_ROLLOUT_STRATEGY: waves ${waves}`);
  return { value: strategy, problems };
}

/** SHIPYARD_AUTO_ROLLOUT_SELECTOR as JSON; the schema checks its fields. */
function rolloutSelector(raw: string | undefined): Read {
  if (!raw) return { value: {} satisfies RolloutSelector };
  try {
    return { value: JSON.parse(raw) as unknown };
  } catch (err) {
    return { value: {}, problems: [`SHIPYARD_AUTO_ROLLOUT_SELECTOR: must be a JSON object like {"plans":["starter"]} (${(err as Error).message})`] };
  }
}
