// Desired Kubernetes state of one instance, as pure functions of slug, plan, version and config.
// No I/O here: kubernetes.ts applies what these return, and test/activities/manifests.test.ts
// checks them without any cluster.
import type {
  V1Deployment,
  V1Ingress,
  V1LimitRange,
  V1Namespace,
  V1NetworkPolicy,
  V1ObjectMeta,
  V1ResourceQuota,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import type { Config } from '../domain/config';
import { hostnameFor, instanceLabel, managedByLabel, managedByValue, namespaceFor, ownerLabels, type Plan } from '../domain/instance';
import { versionPattern } from '../domain/validation';
import { errorTypes, permanent } from './errors';

export type ManifestConfig = Pick<Config, 'appImage' | 'baseDomain' | 'ingressNamespace' | 'ingressClass' | 'certIssuer'>;

/** Fixed names inside an instance's namespace: the namespace itself is what tells instances apart. */
export const names = {
  app: 'app',
  appSecret: 'app-env',
  tlsSecret: 'app-tls',
  certificate: 'app',
  quota: 'plan',
  limitRange: 'plan',
  networkPolicy: 'default-deny-except-ingress',
} as const;

export const appPort = 8080;
const appNameLabel = 'app.kubernetes.io/name';

/** Labels that select the app's pods; stable across versions so a Deployment's selector never changes. */
export const appSelector = (slug: string): Record<string, string> => ({ [instanceLabel]: slug, [appNameLabel]: names.app });

const meta = (slug: string, name: string, extraLabels: Record<string, string> = {}): V1ObjectMeta => ({
  name,
  namespace: namespaceFor(slug),
  labels: { ...ownerLabels(slug), ...extraLabels },
});

// ---------------------------------------------------------------------------------------------
// Quantities. The plan grants a namespace budget; each pod gets an equal share of it, so the quota
// always admits plan.pods pods and rejects more.

const decimalSuffixes: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const binarySuffixes: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** Parses a Kubernetes quantity ("500m", "2", "1.5Gi", "1e3") into base units (cores, bytes). */
export function parseQuantity(quantity: string): number {
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(quantity.trim());
  if (!match) throw permanent(`"${quantity}" is not a Kubernetes quantity`, errorTypes.invalidSpec);
  const value = Number(match[1]);
  if (match[2]) return value * 10 ** Number(match[2].slice(1));
  const suffix = match[3] ?? '';
  return value * (binarySuffixes[suffix] ?? decimalSuffixes[suffix]!);
}

export interface PodResources {
  cpu: string;
  memory: string;
}

/** One pod's share of the plan's budget: CPU rounded down to whole millicores, memory to whole MiB. */
export function podResources(plan: Plan): PodResources {
  if (!Number.isInteger(plan.pods) || plan.pods < 1) {
    throw permanent(`plan "${plan.name}" allows ${plan.pods} pods; it must allow at least one`, errorTypes.invalidSpec);
  }
  const milliCpu = Math.floor((parseQuantity(plan.cpu) * 1000) / plan.pods);
  const mebibytes = Math.floor(parseQuantity(plan.memory) / 2 ** 20 / plan.pods);
  if (milliCpu < 1 || mebibytes < 1) {
    throw permanent(
      `plan "${plan.name}" (cpu ${plan.cpu}, memory ${plan.memory}) is too small to split over ${plan.pods} pods`,
      errorTypes.invalidSpec,
    );
  }
  return { cpu: `${milliCpu}m`, memory: `${mebibytes}Mi` };
}

// ---------------------------------------------------------------------------------------------
// Namespace and its guard rails

/**
 * The quota's room: the plan's, or — while a workload moves from one plan to another (a plan
 * change rolled back) — both plans' together, so pods of either size can exist side by side
 * until the controller has replaced the ones that must go.
 */
function quotaRoom(plan: Plan, alsoRoomFor?: Plan): { pods: string; cpu: string; memory: string } {
  if (!alsoRoomFor) return { pods: String(plan.pods), cpu: plan.cpu, memory: plan.memory };
  const milliCpu = Math.ceil((parseQuantity(plan.cpu) + parseQuantity(alsoRoomFor.cpu)) * 1000);
  const mebibytes = Math.ceil((parseQuantity(plan.memory) + parseQuantity(alsoRoomFor.memory)) / 2 ** 20);
  return { pods: String(plan.pods + alsoRoomFor.pods), cpu: `${milliCpu}m`, memory: `${mebibytes}Mi` };
}

export function namespaceManifests(
  slug: string,
  plan: Plan,
  config: Pick<ManifestConfig, 'ingressNamespace'>,
  alsoRoomFor?: Plan,
): [V1Namespace, V1ResourceQuota, V1LimitRange, V1NetworkPolicy] {
  const ns = namespaceFor(slug);
  const perPod = podResources(plan);
  const room = quotaRoom(plan, alsoRoomFor);
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: ownerLabels(slug) } } satisfies V1Namespace;
  const quota = {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: meta(slug, names.quota),
    spec: {
      hard: {
        pods: room.pods,
        'requests.cpu': room.cpu,
        'limits.cpu': room.cpu,
        'requests.memory': room.memory,
        'limits.memory': room.memory,
      },
    },
  } satisfies V1ResourceQuota;
  // With a cpu/memory quota in place, a container without requests and limits is rejected
  // outright; the defaults let anything an operator runs in the namespace by hand still start.
  // client-node's models spell the API's `default` as `_default` (and `from` as `_from` below),
  // and its serializer writes only what the model names: under the API's own spelling the field
  // would never reach the server.
  const limitRange = {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: meta(slug, names.limitRange),
    spec: {
      limits: [
        {
          type: 'Container',
          _default: { cpu: perPod.cpu, memory: perPod.memory },
          defaultRequest: { cpu: perPod.cpu, memory: perPod.memory },
          max: { cpu: plan.cpu, memory: plan.memory },
        },
      ],
    },
  } satisfies V1LimitRange;
  // Selecting every pod with an Ingress policy denies all inbound traffic except what the rules
  // admit: the ingress controller's namespace, and pods of this same namespace. Egress stays open
  // because the app must reach its database.
  const networkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(slug, names.networkPolicy),
    spec: {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          _from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': config.ingressNamespace } } },
            { podSelector: {} },
          ],
        },
      ],
    },
  } satisfies V1NetworkPolicy;
  return [namespace, quota, limitRange, networkPolicy];
}

// ---------------------------------------------------------------------------------------------
// Secret

export interface AppSecretValues {
  databaseUrl: string;
  appSecret: string;
}

export function appSecretManifest(slug: string, values: AppSecretValues): V1Secret {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(slug, names.appSecret),
    type: 'Opaque',
    data: { DATABASE_URL: b64(values.databaseUrl), APP_SECRET: b64(values.appSecret) },
  };
}

/**
 * The app's connection string: the tenant's own role, password and database, and from the admin
 * URL only what locates and secures the server (scheme, host, port, sslmode). Anything else in
 * TENANT_DATABASE_URL (the admin user, `options`, `application_name`, a client certificate's
 * path…) is the control plane's business and never reaches a tenant.
 */
export function tenantDatabaseUrl(adminUrl: string, database: string, role: string, password: string): string {
  let admin: URL;
  try {
    admin = new URL(adminUrl);
  } catch {
    throw permanent('TENANT_DATABASE_URL is not a URL', errorTypes.invalidSpec);
  }
  const url = new URL(`${admin.protocol}//${admin.host}`);
  url.username = encodeURIComponent(role);
  url.password = encodeURIComponent(password);
  url.pathname = `/${encodeURIComponent(database)}`;
  const sslmode = admin.searchParams.get('sslmode');
  if (sslmode !== null) url.searchParams.set('sslmode', sslmode);
  return url.toString();
}

// ---------------------------------------------------------------------------------------------
// Workload

export interface WorkloadSpec {
  plan: Plan;
  version: string;
  replicas: number;
}

export const imageFor = (appImage: string, version: string): string => `${appImage}:${version}`;

/** The tag of an image reference, or undefined for an untagged (or digest-only) reference. */
export function versionOfImage(image: string): string | undefined {
  const withoutDigest = image.split('@')[0]!;
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  return colon === -1 ? undefined : lastSegment.slice(colon + 1);
}

export function workloadManifests(slug: string, spec: WorkloadSpec, config: Pick<ManifestConfig, 'appImage'>): [V1Deployment, V1Service] {
  const { plan, version, replicas } = spec;
  if (!new RegExp(versionPattern).test(version)) {
    throw permanent(`version "${version}" is not a valid image tag`, errorTypes.invalidSpec);
  }
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > plan.pods) {
    throw permanent(
      `${replicas} replicas do not fit plan "${plan.name}", which allows 0–${plan.pods} pods`,
      errorTypes.invalidSpec,
    );
  }
  const perPod = podResources(plan);
  // A rolling update needs room for one extra pod; when the quota has none, replace pods one at
  // a time instead (brief loss of one replica) rather than hang on a surge pod the quota refuses.
  const roomToSurge = plan.pods > replicas;
  const selector = appSelector(slug);
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(slug, names.app, { [`app.kubernetes.io/name`]: names.app }),
    spec: {
      replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: selector },
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: roomToSurge ? { maxSurge: 1, maxUnavailable: 0 } : { maxSurge: 0, maxUnavailable: 1 },
      },
      template: {
        metadata: { labels: { ...ownerLabels(slug), ...selector } },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: names.app,
              image: imageFor(config.appImage, version),
              ports: [{ name: 'http', containerPort: appPort, protocol: 'TCP' }],
              envFrom: [{ secretRef: { name: names.appSecret } }],
              // requests = limits = the pod's share, so `replicas` pods always fit the quota.
              resources: {
                requests: { cpu: perPod.cpu, memory: perPod.memory },
                limits: { cpu: perPod.cpu, memory: perPod.memory },
              },
            },
          ],
        },
      },
    },
  } satisfies V1Deployment;
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(slug, names.app),
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  } satisfies V1Service;
  return [deployment, service];
}

// ---------------------------------------------------------------------------------------------
// TLS and ingress

/**
 * cert-manager's Certificate (cert-manager.io/v1), as far as Shipyard sets it: client-node has no
 * model for it, and a misspelt field would otherwise be dropped by cert-manager's schema unnoticed.
 */
export interface Certificate {
  apiVersion: 'cert-manager.io/v1';
  kind: 'Certificate';
  metadata: V1ObjectMeta;
  spec: {
    secretName: string;
    dnsNames: string[];
    issuerRef: { name: string; kind: 'Issuer' | 'ClusterIssuer'; group?: string };
    privateKey?: { algorithm?: 'RSA' | 'ECDSA' | 'Ed25519'; size?: number };
    secretTemplate?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  };
}

export function certificateManifest(slug: string, config: Pick<ManifestConfig, 'baseDomain' | 'certIssuer'>): Certificate {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: meta(slug, names.certificate),
    spec: {
      secretName: names.tlsSecret,
      dnsNames: [hostnameFor(slug, config.baseDomain)],
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: config.certIssuer },
      // P-256 instead of cert-manager's default RSA 2048: a key costs a fraction of the CPU to
      // make (it adds up over a fleet provisioned at once), and every current client accepts it.
      privateKey: { algorithm: 'ECDSA', size: 256 },
      // cert-manager creates the TLS Secret; this stamps our ownership on it so teardown may delete it.
      secretTemplate: { labels: ownerLabels(slug) },
    },
  };
}

/**
 * How an instance's host gets its certificate (SHIPYARD_TLS_MODE): `per-instance`, a Certificate of
 * its own in its namespace; `wildcard`, the one Certificate for `*.<base domain>` in the ingress
 * controller's namespace, which the controller serves as its default certificate.
 */
export type TlsMode = Config['tlsMode'];

// The wildcard certificate: one for the whole base domain, shared by every instance, so it belongs
// to no instance. Its own ownership mark tells it apart from an instance's objects.

/** Fixed names of the wildcard Certificate and its Secret, in the ingress controller's namespace. */
export const wildcardNames = {
  certificate: 'shipyard-wildcard',
  tlsSecret: 'shipyard-wildcard-tls',
} as const;

export const componentLabel = 'app.kubernetes.io/component';
/** Labels of the wildcard Certificate and of the Secret cert-manager issues for it. */
export const wildcardLabels: Record<string, string> = { [managedByLabel]: managedByValue, [componentLabel]: 'wildcard-certificate' };

/** `*.<base domain>`: every instance's host, one label deep (the base domain itself is no instance's). */
export const wildcardDnsName = (baseDomain: string): string => `*.${baseDomain}`;

export function wildcardCertificateManifest(config: Pick<ManifestConfig, 'baseDomain' | 'certIssuer' | 'ingressNamespace'>): Certificate {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: wildcardNames.certificate, namespace: config.ingressNamespace, labels: wildcardLabels },
    spec: {
      secretName: wildcardNames.tlsSecret,
      dnsNames: [wildcardDnsName(config.baseDomain)],
      // A wildcard needs an issuer that solves DNS-01 (an ACME CA will not prove `*.` over HTTP-01).
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: config.certIssuer },
      privateKey: { algorithm: 'ECDSA', size: 256 },
      secretTemplate: { labels: wildcardLabels },
    },
  };
}

/**
 * The Ingress of an instance. Per instance, its TLS names the Secret of its own Certificate; with
 * the wildcard, it names the host only: ingress-nginx then serves its default certificate
 * (`--default-ssl-certificate`, the wildcard's Secret) for it, and still redirects HTTP to HTTPS.
 */
export function ingressManifest(slug: string, config: Pick<ManifestConfig, 'baseDomain' | 'ingressClass'>, tlsMode: TlsMode = 'per-instance'): V1Ingress {
  const host = hostnameFor(slug, config.baseDomain);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(slug, names.app),
    spec: {
      ingressClassName: config.ingressClass,
      tls: [tlsMode === 'wildcard' ? { hosts: [host] } : { hosts: [host], secretName: names.tlsSecret }],
      rules: [
        {
          host,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: names.app, port: { name: 'http' } } } }],
          },
        },
      ],
    },
  };
}
