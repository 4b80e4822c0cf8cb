// A real Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) with kwok playing the kubelets of a few fake nodes, so Deployments roll out and
// Pods become Ready without containers. Everything runs from one multi-call binary built from
// testbed/go/kube and cached outside the checkout.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, loadYaml, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { quantityValue } from '../../domain/capacity';
import {
  assertPortFree,
  cacheDir,
  type Component,
  type ComponentStatus,
  daemonRunning,
  dataDir,
  ensureDir,
  logFileFor,
  onPath,
  portFromEnv,
  portOpen,
  repoRoot,
  run,
  startDaemon,
  stateDir,
  stopDaemon,
  TestbedError,
  waitFor,
} from '../runtime';

const NAME = 'kubernetes';
const moduleDir = join(repoRoot, 'testbed', 'go', 'kube');
/** The Kubernetes release the wrapper module pins; go.mod is the one place it is chosen. */
export const KUBERNETES_VERSION = requiredVersion('k8s.io/kubernetes');

export function requiredVersion(modulePath: string): string {
  const goMod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  const version = new RegExp(`^\\s*${modulePath.replaceAll('.', '\\.')} (v\\S+)`, 'm').exec(goMod)?.[1];
  if (!version) throw new TestbedError(NAME, `testbed/go/kube/go.mod does not require ${modulePath}`);
  return version;
}
const kubeDir = join(repoRoot, 'testbed', 'kube');

/**
 * Where one cluster of the testbed keeps its state, its daemons' names and its ports. The first
 * cluster (no name) is the one `infra:up` always starts, with the layout it has always had; a named
 * cluster (`eu-2`, started on demand for the multi-cluster tests) keeps everything under
 * `clusters/<name>/` of the state directory, names its daemons `<daemon>-<name>` and takes its own
 * ports, so it can run beside the first without touching it.
 */
export interface ClusterLayout {
  /** undefined for the testbed's first cluster. */
  name: string | undefined;
  stateDir: string;
  dataDir: string;
  pkiDir: string;
  kubeconfigPath: string;
  daemon(base: string): string;
  ports: () => { api: number; etcd: number; etcdPeer: number; controllerManager: number; scheduler: number };
  nodes: () => { names: string[]; capacity: Record<string, string> };
}

/** A named cluster's name: lower-case letters, digits and dashes (it names daemons, files and task queues). */
const clusterNamePattern = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/**
 * The layout of a cluster. `index` (1 for the first extra cluster, 2 for the next) moves every port
 * by ten per cluster, clear of the first cluster's; SHIPYARD_KUBE_*_PORT still moves the first's.
 */
export function clusterLayout(name?: string, options: { index?: number; nodes?: number; cpu?: string; memory?: string; podsPerNode?: number } = {}): ClusterLayout {
  if (name === undefined) {
    return {
      name,
      stateDir,
      dataDir,
      pkiDir: join(stateDir, 'kube', 'pki'),
      kubeconfigPath: join(stateDir, 'kubeconfig'),
      daemon: (base) => base,
      ports: () => ({
        api: portFromEnv('SHIPYARD_KUBE_API_PORT', 6443),
        // Off etcd's defaults (2379/2380) so a developer's own etcd does not collide.
        etcd: portFromEnv('SHIPYARD_KUBE_ETCD_PORT', 12379),
        etcdPeer: portFromEnv('SHIPYARD_KUBE_ETCD_PEER_PORT', 12380),
        controllerManager: portFromEnv('SHIPYARD_KUBE_CONTROLLER_MANAGER_PORT', 10257),
        scheduler: portFromEnv('SHIPYARD_KUBE_SCHEDULER_PORT', 10259),
      }),
      nodes: () => ({ names: fakeNodeNames(countFromEnv('SHIPYARD_KWOK_NODES', 3)), capacity: fakeNodeCapacity() }),
    };
  }
  if (!clusterNamePattern.test(name)) throw new TestbedError(NAME, `cluster name ${JSON.stringify(name)} must be lower-case letters, digits and dashes`);
  const offset = 10 * (options.index ?? 1);
  const own = join(stateDir, 'clusters', name);
  const capacity = {
    cpu: options.cpu ?? '2000',
    memory: options.memory ?? '8Ti',
    pods: String(options.podsPerNode ?? 700),
    'ephemeral-storage': '1Ti',
  };
  return {
    name,
    stateDir: own,
    dataDir: join(own, 'data'),
    pkiDir: join(own, 'kube', 'pki'),
    kubeconfigPath: join(own, 'kubeconfig'),
    daemon: (base) => `${base}-${name}`,
    ports: () => ({ api: 6443 + offset, etcd: 12379 + offset, etcdPeer: 12380 + offset, controllerManager: 10257 + offset, scheduler: 10259 + offset }),
    nodes: () => ({ names: fakeNodeNames(options.nodes ?? 1), capacity }),
  };
}

const firstCluster = clusterLayout();
export const kubeconfigPath = firstCluster.kubeconfigPath;
/** Server-side apply field manager for everything the testbed itself creates in the cluster. */
export const fieldManager = 'shipyard-testbed';

/**
 * The fake nodes kwok manages; sized so plan quotas, not node capacity, are what limits tenants:
 * room for a fleet of thousands of instances by CPU and memory (the capacity check adds up every
 * tenant's quota against this). The defaults, 3 nodes × 700 pods, hold a fleet of 2,000
 * single-pod instances. SHIPYARD_KWOK_NODES and SHIPYARD_KWOK_PODS_PER_NODE change them (a running
 * testbed takes a new capacity when it starts again; surplus nodes of an earlier, larger setting
 * are left alone).
 */
// Read when the testbed starts, not when this module loads: a caller (a bench) may set them first.
const fakeNodeNames = (count: number) => Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
const fakeNodeCapacity = () => ({ cpu: '2000', memory: '8Ti', pods: String(countFromEnv('SHIPYARD_KWOK_PODS_PER_NODE', 700)), 'ephemeral-storage': '1Ti' });

function countFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1) throw new TestbedError(NAME, `${variable}=${raw} is not a positive whole number`);
  return count;
}

const nodeLeaseSeconds = 15;

/** Daemon names (pid files) in start order, for one cluster. */
function daemonsOf(cluster: ClusterLayout) {
  return {
    etcd: cluster.daemon('kube-etcd'),
    apiserver: cluster.daemon('kube-apiserver'),
    controllerManager: cluster.daemon('kube-controller-manager'),
    scheduler: cluster.daemon('kube-scheduler'),
    kwok: cluster.daemon('kube-kwok'),
  };
}

// ---------------------------------------------------------------------------------------------
// The binary

/**
 * Directory of the binaries built from the current wrapper module. The key covers the sources and
 * go.sum, so a version bump builds anew and the previous build stays usable until then.
 */
function buildDir(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(moduleDir).sort()) {
    if (file === 'go.mod' || file === 'go.sum' || file.endsWith('.go')) {
      hash.update(file).update(readFileSync(join(moduleDir, file)));
    }
  }
  return join(cacheDir, 'kube', `${KUBERNETES_VERSION}-${hash.digest('hex').slice(0, 12)}`);
}

/** The version of a module the wrapper module requires (go.mod is the lock). */
function requiredModuleVersion(module: string): string {
  const found = new RegExp(`^\\s*${module.replaceAll('.', '\\.')} (v\\S+)`, 'm').exec(readFileSync(join(moduleDir, 'go.mod'), 'utf8'));
  if (!found) throw new Error(`testbed/go/kube/go.mod does not require ${module}`);
  return found[1]!;
}

let building: Promise<void> | undefined;

/**
 * Path of `program` (`shipyard-kube`, the multi-call binary, or `helm` for the chart tests), both
 * built when the cache has none. One `go build` makes both: helm (a tool of the wrapper module,
 * whose go.mod pins its version) then compiles against the same k8s.io packages, once, instead of
 * a second copy of them in a build of its own. A source-built helm reports a low default
 * Kubernetes version, so pass `--kube-version` to `template`/`lint`.
 */
export async function ensureBinary(component: string, say: (m: string) => void, program: 'shipyard-kube' | 'helm' = 'shipyard-kube'): Promise<string> {
  const dir = buildDir();
  const binary = join(dir, program);
  if (existsSync(binary)) return binary;
  // Callers in one process (the testbed's parts, the chart tests' helm) wait for the same build.
  building ??= build(component, dir, say).finally(() => {
    building = undefined;
  });
  await building;
  return binary;
}

async function build(component: string, dir: string, say: (m: string) => void): Promise<void> {
  if (!onPath('go')) throw new TestbedError(component, 'Go is needed to build the Kubernetes binaries but is not on PATH');
  const log = logFileFor('kube-build');
  const helm = requiredModuleVersion('helm.sh/helm/v3');
  say(`building Kubernetes ${KUBERNETES_VERSION}, kwok, cert-manager and helm ${helm} into ${dir} (cold: ~6 min on 2 cores; log ${log})`);
  const started = Date.now();
  // Per-process directory: two `up`s racing (two terminals, a test run) must not write one file.
  const partial = ensureDir(`${dir}.${process.pid}.partial`);
  const version = 'k8s.io/component-base/version';
  const [major, minor] = KUBERNETES_VERSION.slice(1).split('.');
  await run(
    component,
    'go',
    [
      'build',
      // Stamp the versions the programs report: kwok and clients compare Kubernetes'; helm's shows in `helm version`.
      `-ldflags=-s -w -X ${version}.gitVersion=${KUBERNETES_VERSION} -X ${version}.gitMajor=${major} -X ${version}.gitMinor=${minor} -X helm.sh/helm/v3/internal/version.version=${helm}`,
      '-o',
      `${partial}/`,
      '.',
      'helm.sh/helm/v3/cmd/helm',
    ],
    // -mod=readonly: the committed go.sum is the lock file; a build never rewrites it. No VCS
    // stamping: the module sits inside the project's checkout, whose state is not the binary's.
    {
      logFile: log,
      cwd: moduleDir,
      env: { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly -buildvcs=false`.trim() },
      timeoutMs: 60 * 60_000,
    },
  );
  // go names each binary after its package: the wrapper module's is `kube`.
  ensureDir(dir);
  renameSync(join(partial, 'helm'), join(dir, 'helm'));
  renameSync(join(partial, 'kube'), join(dir, 'shipyard-kube'));
  rmSync(partial, { recursive: true, force: true });
  say(`built in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

// ---------------------------------------------------------------------------------------------
// Certificates and kubeconfig

async function ensurePki(cluster: ClusterLayout, binary: string, say: (m: string) => void): Promise<void> {
  const { pkiDir } = cluster;
  const wanted = ['ca.crt', 'ca.key', 'apiserver.crt', 'apiserver.key', 'admin.crt', 'admin.key', 'sa.key', 'sa.pub'];
  if (wanted.every((f) => existsSync(join(pkiDir, f)))) return;
  say(`generating cluster CA, serving, admin and service-account keys in ${pkiDir}`);
  await run(NAME, binary, ['pki', '--dir', pkiDir], { logFile: logFileFor(NAME), timeoutMs: 30_000 });
}

function writeKubeconfig(cluster: ClusterLayout): void {
  const { pkiDir, kubeconfigPath } = cluster;
  const apiPort = cluster.ports().api;
  const b64 = (file: string) => readFileSync(join(pkiDir, file)).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'shipyard', cluster: { server: `https://127.0.0.1:${apiPort}`, 'certificate-authority-data': b64('ca.crt') } }],
    users: [{ name: 'shipyard-admin', user: { 'client-certificate-data': b64('admin.crt'), 'client-key-data': b64('admin.key') } }],
    contexts: [{ name: 'shipyard', context: { cluster: 'shipyard', user: 'shipyard-admin' } }],
    'current-context': 'shipyard',
  };
  const text = JSON.stringify(config, null, 2);
  // Rewrite only on change so tools watching the file are not disturbed by an idempotent up.
  if (!existsSync(kubeconfigPath) || readFileSync(kubeconfigPath, 'utf8') !== text) {
    writeFileSync(kubeconfigPath, text, { mode: 0o600 });
  }
}

/** GET on a loopback HTTPS endpoint; resolves the status code. */
function httpsGet(port: number, path: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean }): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        // Controller-manager and scheduler serve /healthz with a certificate they make up at start;
        // there is nothing to verify it against, and it is only a liveness probe on loopback.
        rejectUnauthorized: !tls.insecure,
        timeout: 3000,
      },
      (res) => {
        res.resume();
        resolvePromise(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function adminTls({ pkiDir }: ClusterLayout) {
  return {
    ca: readFileSync(join(pkiDir, 'ca.crt')),
    cert: readFileSync(join(pkiDir, 'admin.crt')),
    key: readFileSync(join(pkiDir, 'admin.key')),
  };
}

async function apiReady(cluster: ClusterLayout): Promise<boolean> {
  if (!existsSync(join(cluster.pkiDir, 'admin.key'))) return false;
  try {
    return (await httpsGet(cluster.ports().api, '/readyz', adminTls(cluster))) === 200;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Applying objects

export function kubeConfigFrom(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Server-side applies every object; the same call creates or updates, so re-running is harmless. */
export async function applyObjects(kc: KubeConfig, objects: KubernetesObject[]): Promise<void> {
  // A fresh client per call: its resource cache must not predate CRDs installed just before.
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) {
    await client.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);
  }
}

/** Creates objects that do not exist yet and leaves existing ones alone (used where status is set on create). */
async function createIfAbsent(kc: KubeConfig, objects: KubernetesObject[]): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) {
    try {
      await client.create(object, undefined, undefined, fieldManager);
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

/** Nodes made by an earlier start keep the capacity they were created with: set the configured one. */
async function setNodeCapacity(kc: KubeConfig, cluster: ClusterLayout): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const { names, capacity: nodeCapacity } = cluster.nodes();
  for (const name of names) {
    const node = await core.readNode({ name });
    const current = node.status?.capacity ?? {};
    // By value: the apiserver writes quantities back in its own form ("2000" reads back as "2k").
    if (Object.entries(nodeCapacity).every(([resource, quantity]) => quantityValue(current[resource]) === quantityValue(quantity))) continue;
    // A patch, not a replace of what was read: kwok writes the same status (heartbeats), and a
    // replace carrying the read's resourceVersion lost that race with a 409 Conflict.
    await core.patchNodeStatus(
      { name, body: { status: { capacity: nodeCapacity, allocatable: nodeCapacity } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/**
 * Parses manifests into the client's typed models. KubernetesObjectApi serialises through those
 * models and silently drops keys it does not know by their wire names (a CRD's
 * `x-kubernetes-preserve-unknown-fields`, `default`, `enum`), so raw YAML must be deserialised first.
 */
export function loadYamlObjects(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o && !!o.kind)
    .map((o) => loadYaml<KubernetesObject>(JSON.stringify(o)));
}

function bootstrapObjects(): KubernetesObject[] {
  return loadYamlObjects(readFileSync(join(kubeDir, 'cluster.yaml'), 'utf8'));
}

function nodeObjects(cluster: ClusterLayout): KubernetesObject[] {
  const { names, capacity: nodeCapacity } = cluster.nodes();
  return names.map((name) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // kwok manages exactly the nodes carrying this annotation (see --manage-nodes-with-annotation-selector).
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    // Nodes accept status on create; kwok then keeps capacity and marks them Ready.
    status: { capacity: nodeCapacity, allocatable: nodeCapacity },
  })) as KubernetesObject[];
}

// ---------------------------------------------------------------------------------------------
// The component

async function startIfStopped(
  daemon: string,
  port: number | undefined,
  portVar: string | undefined,
  say: (m: string) => void,
  start: () => void,
): Promise<boolean> {
  if (daemonRunning(daemon)) return false;
  if (port !== undefined && portVar) await assertPortFree(NAME, port, portVar);
  say(`starting ${daemon}`);
  start();
  return true;
}

/** The testbed's first cluster, which `infra:up` always starts. */
export const kubernetes: Component = kubernetesComponent(firstCluster);

/** The control plane and kwok nodes of one cluster of the testbed. */
export function kubernetesComponent(cluster: ClusterLayout): Component {
  const daemons = daemonsOf(cluster);
  const { kubeconfigPath, pkiDir, stateDir, dataDir } = cluster;
  return {
    name: cluster.name === undefined ? NAME : `${NAME}-${cluster.name}`,
    // A named cluster is the testbed's own extra; only the first one can come from outside.
    providedBy: cluster.name === undefined ? ['KUBECONFIG'] : [],

    async up({ say }) {
      const p = cluster.ports();
      const binary = await ensureBinary(NAME, say);
      await ensurePki(cluster, binary, say);
      writeKubeconfig(cluster);
      const pki = (f: string) => join(pkiDir, f);
      const env = { ...process.env, KUBECONFIG: kubeconfigPath };

      if (!daemonRunning(daemons.etcd)) await assertPortFree(NAME, p.etcdPeer, 'SHIPYARD_KUBE_ETCD_PEER_PORT');
      await startIfStopped(daemons.etcd, p.etcd, 'SHIPYARD_KUBE_ETCD_PORT', say, () => {
        startDaemon(daemons.etcd, binary, [
          'etcd',
          '--data-dir',
          ensureDir(join(dataDir, 'etcd')),
          '--listen-client-url',
          `http://127.0.0.1:${p.etcd}`,
          '--listen-peer-url',
          `http://127.0.0.1:${p.etcdPeer}`,
        ]);
      });
      await waitForDaemon(daemons.etcd, `etcd on 127.0.0.1:${p.etcd}`, () => portOpen(p.etcd), { timeoutMs: 60_000 });

      const apiLog = logFileFor(daemons.apiserver);
      const apiserverStarted = await startIfStopped(daemons.apiserver, p.api, 'SHIPYARD_KUBE_API_PORT', say, () => {
        startDaemon(daemons.apiserver, binary, [
          'kube-apiserver',
          `--etcd-servers=http://127.0.0.1:${p.etcd}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${p.api}`,
          `--tls-cert-file=${pki('apiserver.crt')}`,
          `--tls-private-key-file=${pki('apiserver.key')}`,
          `--client-ca-file=${pki('ca.crt')}`,
          `--service-account-key-file=${pki('sa.pub')}`,
          `--service-account-signing-key-file=${pki('sa.key')}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          '--service-cluster-ip-range=10.96.0.0/16',
          '--authorization-mode=Node,RBAC',
          '--allow-privileged=true',
          // The endpoint of the `kubernetes` Service would be 127.0.0.1, which Endpoints validation rejects.
          '--endpoint-reconciler-type=none',
          `--cert-dir=${ensureDir(join(stateDir, 'kube', 'apiserver'))}`,
        ]);
      });
      await waitForDaemon(daemons.apiserver, `kube-apiserver /readyz on 127.0.0.1:${p.api}`, () => apiReady(cluster), {
        timeoutMs: 120_000,
        intervalMs: 500,
      });

      // Leader election only delays a restart by a lease period; there is one replica of each.
      await startIfStopped(daemons.controllerManager, p.controllerManager, 'SHIPYARD_KUBE_CONTROLLER_MANAGER_PORT', say, () => {
        startDaemon(daemons.controllerManager, binary, [
          'kube-controller-manager',
          `--kubeconfig=${kubeconfigPath}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${p.controllerManager}`,
          '--leader-elect=false',
          `--service-account-private-key-file=${pki('sa.key')}`,
          `--root-ca-file=${pki('ca.crt')}`,
          `--cluster-signing-cert-file=${pki('ca.crt')}`,
          `--cluster-signing-key-file=${pki('ca.key')}`,
          '--use-service-account-credentials=false',
          `--cert-dir=${ensureDir(join(stateDir, 'kube', 'controller-manager'))}`,
          // Its client's default budget (20 requests/s) is what a fleet's Deployments, ReplicaSets
          // and Pods queue behind. One local apiserver takes far more. (Namespaces are deleted by
          // the testbed's own loop inside this process, without upstream's 5 s grace: see
          // testbed/go/kube/namespaces.go.)
          '--kube-api-qps=500',
          '--kube-api-burst=1000',
        ]);
      });
      await startIfStopped(daemons.scheduler, p.scheduler, 'SHIPYARD_KUBE_SCHEDULER_PORT', say, () => {
        startDaemon(daemons.scheduler, binary, [
          'kube-scheduler',
          `--kubeconfig=${kubeconfigPath}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${p.scheduler}`,
          '--leader-elect=false',
          `--cert-dir=${ensureDir(join(stateDir, 'kube', 'scheduler'))}`,
          '--kube-api-qps=500',
          '--kube-api-burst=1000',
        ]);
      });
      const kwokBinary = onPath('kwok');
      if (apiserverStarted && daemonRunning(daemons.kwok)) {
        // kwok renews node leases from its informer cache and keeps failing on conflicts once the
        // apiserver behind it has restarted, so its nodes would go NotReady: restart it with it.
        say('restarting kube-kwok, whose apiserver restarted');
        await stopDaemon(daemons.kwok);
      }
      const kwokStartedAt = Date.now();
      const kwokStarted = await startIfStopped(daemons.kwok, undefined, undefined, say, () => {
        // A kwok on PATH is used as is; otherwise the one linked into our binary.
        const [command, prefix] = kwokBinary ? [kwokBinary, []] : [binary, ['kwok']];
        startDaemon(
          daemons.kwok,
          command,
          [
            ...prefix,
            `--kubeconfig=${kubeconfigPath}`,
            `--config=${join(kubeDir, 'kwok.yaml')}`,
            '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
            // A restarted kwok has a new holder identity and waits for its predecessor's leases to
            // expire before it manages the nodes again; short leases keep that wait short.
            `--node-lease-duration-seconds=${nodeLeaseSeconds}`,
            '--cidr=10.244.0.0/16',
            '--node-ip=10.200.0.1',
            // Lease renewals are logged at INFO every few seconds per node.
            '--v=WARN',
          ],
          { env },
        );
      });

      for (const [daemon, port] of [
        [daemons.controllerManager, p.controllerManager],
        [daemons.scheduler, p.scheduler],
      ] as const) {
        await waitForDaemon(daemon, `${daemon} /healthz on 127.0.0.1:${port}`, async () => (await httpsGet(port, '/healthz', { insecure: true })) === 200, {
          timeoutMs: 90_000,
          intervalMs: 500,
        });
      }

      const kc = kubeConfigFrom(kubeconfigPath);
      try {
        await applyObjects(kc, bootstrapObjects());
        await createIfAbsent(kc, nodeObjects(cluster));
        await setNodeCapacity(kc, cluster);
      } catch (err) {
        throw new TestbedError(NAME, `applying testbed/kube/cluster.yaml and fake nodes failed: ${describe(err)}`, undefined, apiLog);
      }

      say(`waiting for ${cluster.nodes().names.length} kwok nodes to be Ready`);
      // A node's Ready condition outlives the kwok that set it by the controller-manager's grace
      // period, so what proves kwok is managing a node (and will run its pods) is a lease it renewed.
      const renewedSince = kwokStarted ? kwokStartedAt - 1000 : Date.now() - nodeLeaseSeconds * 1000;
      await waitForDaemon(daemons.kwok, 'kwok nodes Ready with leases renewed by the running kwok', () => nodesReady(kc, renewedSince, cluster), {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      // The ServiceAccount admission plugin rejects Pods until the controller-manager has created
      // the namespace's default ServiceAccount; waiting here keeps that race out of the tests.
      await waitForDaemon(daemons.controllerManager, 'default ServiceAccount', () => defaultServiceAccountExists(kc), {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      say(`ready at https://127.0.0.1:${p.api}; KUBECONFIG=${kubeconfigPath}`);
      return { KUBECONFIG: kubeconfigPath };
    },

    async down() {
      // Everything but etcd holds no state of its own (etcd has it all), so all of it stops side by
      // side, etcd last, gracefully. The controller-manager would take 15 s and more to drain on
      // SIGTERM, the others about 2 s, which every `down` and every CI run would wait for.
      const stateless = 1_000;
      await Promise.all([daemons.kwok, daemons.scheduler, daemons.controllerManager, daemons.apiserver].map((d) => stopDaemon(d, stateless)));
      await stopDaemon(daemons.etcd);
    },

    async status(): Promise<ComponentStatus> {
      const p = cluster.ports();
      const allRunning = Object.values(daemons).every(daemonRunning);
      return {
        up: allRunning && (await apiReady(cluster)),
        address: `https://127.0.0.1:${p.api} (KUBECONFIG=${kubeconfigPath})`,
        log: logFileFor(daemons.apiserver),
      };
    },
  };
}

/**
 * waitFor on a daemon of ours; a failure names the daemon's command line (the header startDaemon
 * writes into its log) besides the log, so the report says what ran as well as where to look.
 */
async function waitForDaemon<T>(
  daemon: string,
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const logFile = logFileFor(daemon);
  try {
    return await waitFor(NAME, what, check, { ...options, daemon, logFile });
  } catch (err) {
    if (!(err instanceof TestbedError)) throw err;
    const header = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('--- '))
      .pop();
    const command = header?.replace(/^--- \S+ \$ /, '');
    throw new TestbedError(NAME, err.message.replace(`[${NAME}] `, '').split('\n')[0]!, command, logFile);
  }
}

async function nodesReady(kc: KubeConfig, leasesRenewedSince: number, cluster: ClusterLayout): Promise<boolean> {
  const names = cluster.nodes().names;
  const client = KubernetesObjectApi.makeApiClient(kc);
  const nodes = await client.list('v1', 'Node');
  const ready = nodes.items.filter((n) =>
    ((n as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? []).some(
      (c) => c.type === 'Ready' && c.status === 'True',
    ),
  );
  if (ready.length < names.length) return false;
  const leases = await client.list('coordination.k8s.io/v1', 'Lease', 'kube-node-lease');
  const renewed = leases.items.filter((l) => {
    const renewTime = (l as { spec?: { renewTime?: Date | string } }).spec?.renewTime;
    return names.includes(l.metadata?.name ?? '') && renewTime !== undefined && new Date(renewTime).getTime() >= leasesRenewedSince;
  });
  return renewed.length >= names.length;
}

async function defaultServiceAccountExists(kc: KubeConfig): Promise<boolean> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  await client.read({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } });
  return true;
}

export function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'body' in err) {
    const body = (err as { body?: unknown }).body;
    return typeof body === 'string' ? body : JSON.stringify(body);
  }
  return err instanceof Error ? err.message : String(err);
}

