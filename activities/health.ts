// One instance's health check, and the healing of what drifted: every object Shipyard made for it
// is read and compared with what it should be; what is missing or changed is re-applied with the
// very activities the runbooks use (so a heal is as idempotent and as careful about ownership as a
// provision), at most SHIPYARD_HEAL_BUDGET times per instance per 24 h. Objects that are not
// Shipyard's are reported and never touched.
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { KubernetesObjectApi, type KubernetesObject, type V1Deployment, type V1Ingress, type V1Secret } from '@kubernetes/client-node';
import postgres from 'postgres';
import { listedInstanceView } from '../lifecycle/views';
import { getPlan } from '../db/plans';
import { findInstance, type InstanceRow } from '../db/instances';
import { recordEvent } from '../db/events';
import { getCluster, listClusters } from '../db/clusters';
import { closeSweep, healsSince, instancesToCheck, openSweep, recordHealth, updateSweepProgress } from '../db/sweeps';
import { clusterStatus } from '../domain/clusters';
import type { WebhookEventType } from '../domain/webhooks';
import { healthCheckQueue, healthOf, offlineClusterVerdict, type Health, type HealthCheck, type OfflineCluster, type SweepTotals } from '../domain/health';
import { hostnameFor, instanceLabel, managedByLabel, managedByValue, namespaceFor } from '../domain/instance';
import { createDnsActivities } from './dns';
import { errorTypes, isKubeNotFound, kubeError, route53Error } from './errors';
import type { ActivityDeps } from './deps';
import { createKubernetesActivities } from './kubernetes';
import { imageFor, names, wildcardDnsName, wildcardNames } from './manifests';
import { createTenantDatabaseActivities } from './tenant-database';
import { publishWebhookEvent } from './webhooks';
import { wildcardCertificate } from './wildcard-certificate';

export const HEALTH_ACTOR = 'health-sweep';
const DAY_MS = 24 * 60 * 60 * 1000;

/** What a heal re-applies, in the order a provision makes it (later things need earlier ones). */
const healOrder = ['namespace', 'database', 'secret', 'workload', 'certificate', 'ingress', 'dns'] as const;
type Heal = (typeof healOrder)[number];

interface Finding extends HealthCheck {
  /** The runbook step that puts this right, when it is Shipyard's to put right. */
  heal?: Heal;
}

export interface InstanceHealth {
  instanceId: string;
  /** The cluster the instance is placed in; absent for an unplaced one (a single-cluster install). */
  cluster?: string;
  health: Health;
  checks: HealthCheck[];
  healed: boolean;
}

const pass = (name: string, detail?: string): Finding => ({ name, status: 'pass', ...(detail ? { detail } : {}) });
const fail = (name: string, detail: string, options: { critical?: boolean; heal?: Heal } = {}): Finding => ({
  name,
  status: 'fail',
  detail,
  ...(options.critical ? { critical: true } : {}),
  ...(options.heal ? { heal: options.heal } : {}),
});

function ownedBy(obj: KubernetesObject, slug: string): boolean {
  const labels = obj.metadata?.labels ?? {};
  return labels[managedByLabel] === managedByValue && labels[instanceLabel] === slug;
}

type CertificateObject = KubernetesObject & { status?: { conditions?: { type: string; status: string; message?: string }[]; notAfter?: string } };

const describeError = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function createHealthActivities(deps: ActivityDeps) {
  const { config, db, kube, route53 } = deps;
  const objects = KubernetesObjectApi.makeApiClient(kube);
  const kubernetes = createKubernetesActivities(deps);
  const dns = createDnsActivities(deps);
  const tenantDatabase = createTenantDatabaseActivities(deps);
  const wildcard = wildcardCertificate(kube, config);

  async function read<T extends KubernetesObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return (await objects.read<T>({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } } as never)) as T;
    } catch (err) {
      if (isKubeNotFound(err)) return undefined;
      throw kubeError(`read ${kind} ${namespace ? `${namespace}/` : ''}${name}`, err);
    }
  }

  /** Present and Shipyard's (pass), missing (fail, healable), or someone else's (fail, left alone). */
  function presence(name: string, obj: KubernetesObject | undefined, slug: string, heal: Heal): Finding | undefined {
    if (!obj) return fail(name, 'missing', { critical: true, heal });
    if (!ownedBy(obj, slug)) return fail(name, `present but without Shipyard's labels: not Shipyard's, left alone`, { critical: true });
    return undefined;
  }

  async function inspect(slug: string, version: string, suspended: boolean, replicas: number): Promise<Finding[]> {
    const ns = namespaceFor(slug);
    // Checked against the mode the worker runs in now: after a switch, the heals bring each
    // instance's Ingress over to it.
    const wildcardMode = config.tlsMode === 'wildcard';
    const hostname = hostnameFor(slug, config.baseDomain);
    const findings: Finding[] = [];

    const namespace = await read('v1', 'Namespace', ns);
    findings.push(presence('namespace', namespace, slug, 'namespace') ?? pass('namespace'));
    for (const [name, apiVersion, kind, objectName] of [
      ['quota', 'v1', 'ResourceQuota', names.quota],
      ['limit range', 'v1', 'LimitRange', names.limitRange],
      ['network policy', 'networking.k8s.io/v1', 'NetworkPolicy', names.networkPolicy],
    ] as const) {
      const obj = namespace ? await read(apiVersion, kind, objectName, ns) : undefined;
      findings.push(presence(name, obj, slug, 'namespace') ?? pass(name));
    }

    const secret = namespace ? await read<V1Secret>('v1', 'Secret', names.appSecret, ns) : undefined;
    const databaseUrl = secret?.data?.DATABASE_URL ? Buffer.from(secret.data.DATABASE_URL, 'base64').toString('utf8') : undefined;
    findings.push(presence('app secret', secret, slug, 'secret') ?? (databaseUrl ? pass('app secret') : fail('app secret', 'has no DATABASE_URL', { critical: true, heal: 'secret' })));

    const deployment = namespace ? await read<V1Deployment>('apps/v1', 'Deployment', names.app, ns) : undefined;
    const missingDeployment = presence('deployment', deployment, slug, 'workload');
    if (missingDeployment) findings.push(missingDeployment);
    else {
      const image = deployment!.spec?.template.spec?.containers.find((c) => c.name === names.app)?.image;
      const wanted = imageFor(config.appImage, version);
      const actualReplicas = deployment!.spec?.replicas ?? 1;
      if (image !== wanted) findings.push(fail('deployment', `runs image ${image ?? '(none)'}, not ${wanted}`, { critical: true, heal: 'workload' }));
      else if (actualReplicas !== replicas) {
        findings.push(fail('deployment', `has ${actualReplicas} replicas, not ${replicas}${suspended ? ' (suspended)' : ''}`, { critical: true, heal: 'workload' }));
      } else findings.push(pass('deployment', `${wanted}, ${replicas} replicas${suspended ? ' (suspended)' : ''}`));
      if (!suspended) {
        const available = deployment!.status?.conditions?.find((c) => c.type === 'Available');
        findings.push(
          available?.status === 'True'
            ? pass('deployment available')
            : fail('deployment available', `Available is ${available?.status ?? 'not reported'}${available?.message ? `: ${available.message}` : ''}`),
        );
      }
    }

    const service = namespace ? await read('v1', 'Service', names.app, ns) : undefined;
    findings.push(presence('service', service, slug, 'workload') ?? pass('service'));

    const ingress = namespace ? await read<V1Ingress>('networking.k8s.io/v1', 'Ingress', names.app, ns) : undefined;
    const ingressProblem = presence('ingress', ingress, slug, 'ingress');
    if (ingressProblem) findings.push(ingressProblem);
    else {
      const host = ingress!.spec?.rules?.[0]?.host;
      const tls = ingress!.spec?.tls?.[0];
      // Per instance, TLS from the instance's own Secret; with the wildcard, no Secret: the ingress
      // controller's default certificate (the wildcard's) serves the host.
      const wantedSecret = wildcardMode ? undefined : names.tlsSecret;
      if (host !== hostname) findings.push(fail('ingress', `routes host ${host ?? '(none)'}, not ${hostname}`, { critical: true, heal: 'ingress' }));
      else if (!tls || tls.secretName !== wantedSecret || !tls.hosts?.includes(hostname)) {
        const wanted = wildcardMode ? `the ingress controller's default certificate (no secretName)` : names.tlsSecret;
        findings.push(fail('ingress', `TLS is not ${wanted} for ${hostname}`, { critical: true, heal: 'ingress' }));
      } else findings.push(pass('ingress', hostname));
    }

    // In wildcard mode an instance has no Certificate of its own (one left from before a switch of
    // mode is not looked at: its teardown removes it); the shared one is checked instead.
    if (wildcardMode) findings.push(await inspectWildcardCertificate());
    else {
      const certificate = namespace ? await read<CertificateObject>('cert-manager.io/v1', 'Certificate', names.certificate, ns) : undefined;
      findings.push(presence('certificate', certificate, slug, 'certificate') ?? certificateStatus(certificate!));
    }

    findings.push(await inspectDns(hostname));
    findings.push(await inspectDatabase(databaseUrl));
    return findings;
  }

  /** Ready and not expiring soon; otherwise a non-critical failure (degraded). */
  function certificateStatus(certificate: CertificateObject, about = ''): Finding {
    const ready = certificate.status?.conditions?.find((c) => c.type === 'Ready');
    const notAfter = certificate.status?.notAfter ? new Date(certificate.status.notAfter) : undefined;
    if (ready?.status !== 'True') return fail('certificate', `${about}not Ready${ready?.message ? `: ${ready.message}` : ''}`);
    if (notAfter && notAfter.getTime() < Date.now() + config.certExpiryWarnDays * DAY_MS) {
      return fail('certificate', `${about}expires ${notAfter.toISOString()}, within ${config.certExpiryWarnDays} days`);
    }
    return pass('certificate', `${about}${notAfter ? `valid until ${notAfter.toISOString()}` : 'Ready'}`);
  }

  /** The wildcard Certificate every instance serves: missing is critical (healed by applying it again), foreign is left alone. */
  async function inspectWildcardCertificate(): Promise<Finding> {
    const about = `wildcard ${config.ingressNamespace}/${wildcardNames.certificate} (${wildcardDnsName(config.baseDomain)}): `;
    let certificate: CertificateObject | undefined;
    try {
      certificate = await wildcard.read<CertificateObject>();
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === errorTypes.notOwned) {
        return fail('certificate', `${about}present but without Shipyard's labels: not Shipyard's, left alone`, { critical: true });
      }
      throw err;
    }
    if (!certificate) return fail('certificate', `${about}missing`, { critical: true, heal: 'certificate' });
    return certificateStatus(certificate, about);
  }

  async function inspectDns(hostname: string): Promise<Finding> {
    let records;
    try {
      const answer = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: config.hostedZoneId, StartRecordName: hostname, MaxItems: 5 }));
      records = answer.ResourceRecordSets ?? [];
    } catch (err) {
      throw route53Error(`list DNS records at ${hostname}`, err);
    }
    const strip = (name: string) => name.replace(/\.$/, '').toLowerCase();
    const cname = records.find((r) => r.Name && strip(r.Name) === hostname && r.Type === 'CNAME');
    const target = cname?.ResourceRecords?.[0]?.Value;
    if (!cname) return fail('dns record', `no CNAME at ${hostname}`, { critical: true, heal: 'dns' });
    if (!target || strip(target) !== strip(config.ingressTarget)) {
      return fail('dns record', `${hostname} points at ${target ?? '(nothing)'}, not ${config.ingressTarget}`, { critical: true, heal: 'dns' });
    }
    return pass('dns record', `${hostname} → ${config.ingressTarget}`);
  }

  /** The tenant role logs in to its database with the password the app has (in the Secret). */
  async function inspectDatabase(databaseUrl: string | undefined): Promise<Finding> {
    if (!databaseUrl) return fail('database', 'cannot check the tenant login: the app secret has no DATABASE_URL', { critical: true, heal: 'database' });
    const sql = postgres(databaseUrl, { max: 1, connect_timeout: 5, idle_timeout: 1, onnotice: () => {} });
    try {
      await sql`select 1`;
      return pass('database', 'the tenant role logs in with the app secret');
    } catch (err) {
      // Postgres's message names the role or database, never the password.
      return fail('database', `the tenant role cannot log in: ${describeError(err)}`, { critical: true, heal: 'database' });
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  async function applyHeal(heal: Heal, slug: string, plan: NonNullable<Awaited<ReturnType<typeof getPlan>>>, version: string, replicas: number): Promise<void> {
    switch (heal) {
      case 'namespace':
        return kubernetes.applyNamespace(slug, plan);
      case 'database':
        await tenantDatabase.ensureTenantDatabase(slug, { connectionLimit: plan.dbConnections });
        // Sets the role's password to the one in the Secret (or writes a Secret that has none).
        return kubernetes.writeAppSecret(slug);
      case 'secret':
        return kubernetes.writeAppSecret(slug);
      case 'workload':
        return kubernetes.applyWorkload(slug, { plan, version, replicas });
      case 'certificate':
        return config.tlsMode === 'wildcard' ? kubernetes.applyWildcardCertificate() : kubernetes.applyCertificate(slug);
      case 'ingress':
        return kubernetes.applyIngress(slug, config.tlsMode);
      case 'dns':
        return dns.upsertDnsRecord(slug);
    }
  }

  type ClusterRow = Parameters<typeof clusterStatus>[0] & { taskQueue: string };
  const statusOf = (cluster: ClusterRow, now = new Date()) => clusterStatus(cluster, now, config.clusterReportSeconds);
  /** The queue a check of an instance placed in `cluster` runs on (undefined: the central one). */
  const checkQueueOf = (cluster: ClusterRow, now = new Date()) => healthCheckQueue({ taskQueue: cluster.taskQueue, status: statusOf(cluster, now) });

  /** The registered clusters with no capacity report for three periods, as of now. */
  async function offlineClusters(): Promise<OfflineCluster[]> {
    const now = new Date();
    return (await listClusters(db))
      .filter((cluster) => statusOf(cluster, now) === 'offline')
      .map((cluster) => ({ name: cluster.name, region: cluster.region, reportedAt: cluster.reportedAt?.toISOString() ?? null, instanceCount: cluster.instanceCount }));
  }

  /** Still as it was when the check began: same status and version, no operation running. */
  async function stillCheckable(before: InstanceRow): Promise<boolean> {
    const now = await findInstance(db, before.id);
    return !!now && !now.running && now.instance.status === before.status && now.instance.version === before.version;
  }

  return {
    /** The sweep run by this workflow id, recorded now if new (the API records the ones it starts before starting them). */
    async openSweep(workflowId: string): Promise<string> {
      return (await openSweep(db, workflowId)).id;
    },

    /** A page of instances to check, by id: what sweeps from before checks went to each cluster's worker call. */
    async instancesToCheck(after: string | undefined, limit: number): Promise<string[]> {
      return (await instancesToCheck(db, after, limit)).map((row) => row.id);
    },

    /**
     * A page of instances to check, each with the queue its check runs on: its cluster's, when it
     * is placed in one that reports; else none (the central queue, which reports an offline
     * cluster without looking).
     */
    async instancesToCheckWithQueues(after: string | undefined, limit: number): Promise<{ id: string; taskQueue?: string }[]> {
      const rows = await instancesToCheck(db, after, limit);
      if (rows.every((row) => row.cluster === null)) return rows.map(({ id }) => ({ id }));
      const now = new Date();
      const queues = new Map((await listClusters(db)).map((cluster) => [cluster.name, checkQueueOf(cluster, now)]));
      return rows.map(({ id, cluster }) => {
        const taskQueue = cluster === null ? undefined : queues.get(cluster);
        return taskQueue === undefined ? { id } : { id, taskQueue };
      });
    },

    /** The queue `POST …/health/check` runs the instance's check on (as a sweep would); undefined: the central queue. */
    async healthCheckQueueOf(instanceId: string): Promise<string | undefined> {
      const found = await findInstance(db, instanceId);
      const cluster = found?.instance.cluster ? await getCluster(db, found.instance.cluster) : undefined;
      return cluster ? checkQueueOf(cluster) : undefined;
    },

    /** The sweep's totals so far (or at its end), and the clusters offline as it looks now. */
    async updateSweep(sweepId: string, totals: SweepTotals, end?: 'succeeded' | 'failed'): Promise<void> {
      const progress = { ...totals, offlineClusters: await offlineClusters() };
      if (end) await closeSweep(db, sweepId, end, progress);
      else await updateSweepProgress(db, sweepId, progress);
    },

    /**
     * Checks one `ready` or `suspended` instance, heals what drifted (within the budget), stores
     * the verdict on the instance and tells webhooks what changed. An instance that is not (or no
     * longer) ready or suspended, or has an operation running, is left to that operation.
     */
    async checkInstanceHealth(instanceId: string): Promise<InstanceHealth | null> {
      const found = await findInstance(db, instanceId);
      if (!found || found.running || (found.instance.status !== 'ready' && found.instance.status !== 'suspended')) return null;
      const { instance } = found;
      const plan = await getPlan(db, instance.plan);
      if (!plan) return null;
      if (instance.cluster !== null) {
        const cluster = await getCluster(db, instance.cluster);
        if (!cluster || statusOf(cluster) === 'offline') {
          const verdict = offlineClusterVerdict(cluster ?? { name: instance.cluster, region: '(not registered)', reportedAt: null });
          await recordHealth(db, instanceId, verdict.health, verdict.checks);
          return { instanceId, cluster: instance.cluster, ...verdict, healed: false };
        }
        // Only the cluster's own worker sees its objects (this worker's Kubernetes, tenant database
        // and ingress target are another cluster's, or none): a check that reached another worker
        // (a run from before checks went to each cluster's queue) leaves the last verdict alone.
        if (cluster.taskQueue !== config.taskQueue) return null;
      }
      const suspended = instance.status === 'suspended';
      const replicas = suspended ? 0 : plan.replicas;

      const findings = await inspect(instance.slug, instance.version, suspended, replicas);
      const heals = healOrder.filter((h) => findings.some((f) => f.status === 'fail' && f.heal === h));
      let healed = false;
      // An operation that started while we looked owns the instance now: healing would fight it
      // (an upgrade would see its image changed under it). Its result will be checked next time.
      if (heals.length > 0 && !(await stillCheckable(instance))) return null;
      if (heals.length > 0) {
        const used = await healsSince(db, instanceId, new Date(Date.now() - DAY_MS));
        if (used >= config.healBudget) {
          for (const f of findings) if (f.heal && f.status === 'fail') f.detail += `; not healed: the heal budget (${config.healBudget} per 24 h) is spent`;
        } else {
          const fixed: string[] = [];
          const problems: string[] = [];
          for (const heal of heals) {
            const subjects = findings.filter((f) => f.status === 'fail' && f.heal === heal);
            try {
              await applyHeal(heal, instance.slug, plan, instance.version, replicas);
              for (const f of subjects) {
                f.status = 'healed';
                fixed.push(`${f.name} (${f.detail})`);
              }
            } catch (err) {
              for (const f of subjects) f.detail += `; healing failed: ${describeError(err)}`;
              problems.push(`${heal}: ${describeError(err)}`);
            }
          }
          healed = fixed.length > 0;
          await recordEvent(db, {
            instanceId,
            actor: HEALTH_ACTOR,
            action: 'heal',
            outcome: problems.length === 0 ? 'succeeded' : 'failed',
            message: [fixed.length ? `re-applied ${fixed.join(', ')}` : '', problems.length ? `could not heal ${problems.join('; ')}` : '']
              .filter(Boolean)
              .join('; '),
          });
        }
      }

      const checks: HealthCheck[] = findings.map(({ heal: _heal, ...check }) => check);
      const health = healthOf(checks);
      const before = instance.health;
      const news: WebhookEventType[] = [];
      if (healed) news.push('instance.healed');
      if (health === 'unhealthy' && before !== 'unhealthy') news.push('instance.unhealthy');
      if (health === 'healthy' && before === 'unhealthy') news.push('instance.recovered');
      // Told before the verdict is stored, under a key that a retry of this activity repeats: a
      // retry re-publishes the same event (dropped as a duplicate) rather than losing it.
      const info = Context.current().info;
      const key = `health:${info.workflowExecution?.workflowId}:${info.workflowExecution?.runId}:${info.activityId}:${instanceId}`;
      const view = listedInstanceView(config, { instance: { ...instance, health }, running: undefined });
      for (const type of news) {
        await publishWebhookEvent(deps, { key, type, data: { instance: view, health: { health, checks } } });
      }
      await recordHealth(db, instanceId, health, checks);
      return { instanceId, ...(instance.cluster !== null ? { cluster: instance.cluster } : {}), health, checks, healed };
    },
  };
}
