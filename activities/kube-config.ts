// Connections to the Kubernetes API server that are kept and reused. client-node 1.x builds a new
// https.Agent for every request, so each call paid a fresh TCP connection, TLS handshake and
// client-key parse on both ends: measured with 200 provisions in flight, that was most of the
// worker's own CPU and a good part of the apiserver's. Here every request of one identity shares
// one keep-alive agent, as client-go shares one transport.
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

type RequestContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

/** The options that decide whom a TLS connection speaks for and whom it trusts. */
const identityOptions = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

type Identity = unknown[];

/**
 * Compared value by value, not serialised: the library reads the key and certificates into new
 * Buffers for every request, and turning them into JSON each time cost the worker about 2 s of
 * CPU per 200 provisions (profiled).
 */
function sameIdentity(a: Identity, b: Identity): boolean {
  return a.every((value, i) => {
    const other = b[i];
    if (Buffer.isBuffer(value) && Buffer.isBuffer(other)) return value.equals(other);
    return value === other;
  });
}

class PooledKubeConfig extends KubeConfig {
  private pooled?: { identity: Identity; agent: HttpsAgent };

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    // Proxies and plain HTTP keep the library's own agent.
    if (!(fresh instanceof HttpsAgent) || fresh.constructor !== HttpsAgent) return;
    const { options } = fresh;
    const identity = identityOptions.map((name) => options[name]);
    if (!this.pooled || !sameIdentity(this.pooled.identity, identity)) {
      // A rotated client certificate (or a new server CA) starts a new pool. The old one's
      // connections are closed a minute later, when any request still on them is long done.
      const old = this.pooled?.agent;
      if (old) setTimeout(() => old.destroy(), 60_000).unref();
      const agentOptions: AgentOptions = { keepAlive: true };
      for (const name of identityOptions) if (options[name] !== undefined) Object.assign(agentOptions, { [name]: options[name] });
      this.pooled = { identity, agent: new HttpsAgent(agentOptions) };
    }
    context.setAgent(this.pooled.agent);
  }
}

/** The kubeconfig at `path`, or the default one (in-cluster, $KUBECONFIG, ~/.kube/config), with pooled connections. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kube = new PooledKubeConfig();
  if (path) kube.loadFromFile(path);
  else kube.loadFromDefault();
  return kube;
}
