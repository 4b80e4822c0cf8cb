// cert-manager for the testbed cluster: its CRDs and its controller (no webhook, no cainjector),
// plus a `shipyard-ca` ClusterIssuer backed by a self-signed CA, so Certificates become Ready with
// real key pairs. The controller is linked into the same binary as the control plane.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { applyObjects, clusterLayout, type ClusterLayout, describe, ensureBinary, kubeConfigFrom, loadYamlObjects, requiredVersion } from './kubernetes';
import {
  type Component,
  type ComponentStatus,
  daemonRunning,
  logFileFor,
  repoRoot,
  startDaemon,
  stopDaemon,
  TestbedError,
  waitFor,
} from '../runtime';

const NAME = 'cert-manager';
const moduleDir = join(repoRoot, 'testbed', 'go', 'kube');
const manifest = join(repoRoot, 'testbed', 'kube', 'cert-manager.yaml');
/** Where the CA's Secret lives; ClusterIssuers read their secrets from this namespace. */
const clusterResourceNamespace = 'cert-manager';
export const clusterIssuerName = 'shipyard-ca';

/**
 * The CRDs ship as plain controller-gen output in the cert-manager module's deploy/crds; they are read
 * from the Go module cache at the version go.mod pins, so they always match the controller.
 */
async function crdObjects(): Promise<KubernetesObject[]> {
  const version = requiredVersion('github.com/cert-manager/cert-manager');
  const command = ['go', 'mod', 'download', '-json', `github.com/cert-manager/cert-manager@${version}`];
  let dir: string;
  try {
    const { stdout } = await promisify(execFile)(command[0]!, command.slice(1), { cwd: moduleDir, timeout: 300_000 });
    dir = (JSON.parse(stdout) as { Dir: string }).Dir;
  } catch (err) {
    throw new TestbedError(NAME, `locating the cert-manager module failed: ${describe(err)}`, command.join(' '));
  }
  const crdDir = join(dir, 'deploy', 'crds');
  const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml'));
  if (files.length === 0) throw new TestbedError(NAME, `no CRDs found in ${crdDir}`);
  return files.flatMap((f) => loadYamlObjects(readFileSync(join(crdDir, f), 'utf8')));
}

type Conditioned = KubernetesObject & { status?: { conditions?: { type: string; status: string; message?: string }[] } };

async function condition(kc: KubeConfig, header: KubernetesObject, type: string): Promise<{ status: string; message?: string } | undefined> {
  const object = (await KubernetesObjectApi.makeApiClient(kc).read(header as never)) as Conditioned;
  return object.status?.conditions?.find((c) => c.type === type);
}

/** cert-manager of the testbed's first cluster. */
export const certManager: Component = certManagerComponent(clusterLayout());

/** cert-manager of one cluster of the testbed (its KUBECONFIG comes from that cluster's kubernetes component). */
export function certManagerComponent(cluster: ClusterLayout): Component {
  const DAEMON = cluster.daemon('cert-manager');
  return {
    name: cluster.name === undefined ? NAME : `${NAME}-${cluster.name}`,
    providedBy: cluster.name === undefined ? ['KUBECONFIG'] : [],

    async up({ env, say }) {
      const kubeconfig = env.KUBECONFIG;
      if (!kubeconfig) throw new TestbedError(NAME, 'needs KUBECONFIG from the kubernetes component, which did not provide one');
      const binary = await ensureBinary(NAME, say);
      const kc = kubeConfigFrom(kubeconfig);
      const log = logFileFor(DAEMON);

      say('applying cert-manager CRDs');
      const crds = await crdObjects();
      try {
        await applyObjects(kc, crds);
      } catch (err) {
        throw new TestbedError(NAME, `applying CRDs failed: ${describe(err)}`);
      }
      for (const crd of crds) {
        await waitFor(NAME, `CRD ${crd.metadata!.name} Established`, async () => (await condition(kc, crd, 'Established'))?.status === 'True', {
          timeoutMs: 30_000,
        });
      }

      const args = ['cert-manager-controller', `--kubeconfig=${kubeconfig}`, `--cluster-resource-namespace=${clusterResourceNamespace}`];
      const command = [binary, ...args].join(' ');
      if (!daemonRunning(DAEMON)) {
        say('starting cert-manager controller');
        startDaemon(DAEMON, binary, args);
      }

      say(`creating ClusterIssuer ${clusterIssuerName} (self-signed CA)`);
      try {
        await applyObjects(kc, loadYamlObjects(readFileSync(manifest, 'utf8')));
      } catch (err) {
        throw new TestbedError(NAME, `applying testbed/kube/cert-manager.yaml failed: ${describe(err)}`, undefined, log);
      }
      // The issuer turns Ready only after the controller has issued the CA certificate and checked
      // its Secret, so this wait is also the controller's health check.
      const issuer = { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: clusterIssuerName } };
      let last: { status: string; message?: string } | undefined;
      await waitFor(
        NAME,
        `ClusterIssuer ${clusterIssuerName} Ready`,
        async () => {
          last = await condition(kc, issuer, 'Ready');
          return last?.status === 'True';
        },
        { timeoutMs: 90_000, intervalMs: 500, daemon: DAEMON, logFile: log },
      ).catch((err: unknown) => {
        if (!(err instanceof TestbedError)) throw err;
        const reason = err.message.replace(`[${NAME}] `, '').split('\n')[0]!;
        throw new TestbedError(NAME, last?.message ? `${reason}; the issuer says: ${last.message}` : reason, command, log);
      });
      say(`ready; ClusterIssuer ${clusterIssuerName}`);
      return {};
    },

    async down() {
      await stopDaemon(DAEMON);
    },

    async status(): Promise<ComponentStatus> {
      return {
        up: daemonRunning(DAEMON),
        address: `controller (no port); ClusterIssuer ${clusterIssuerName}`,
        log: logFileFor(DAEMON),
      };
    },
  };
}
