// Shipyard's settings: read from the environment once at boot, validated, typed, and
// shared by the API and the worker. Nothing else reads process.env.
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';

const Port = Type.Integer({ minimum: 1, maximum: 65535 });

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
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Builds the config from an environment (normally process.env); throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
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
  };
  const errors = [...Value.Errors(ConfigSchema, raw)];
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const key = e.instancePath.slice(1) || String((e.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? '');
      const unset = (raw as Record<string, unknown>)[key] === undefined;
      return `  ${variableFor[key as keyof Config] ?? key}: ${unset ? 'is not set' : e.message}`;
    });
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
};

function integer(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  return /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
}
