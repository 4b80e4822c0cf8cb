// Connections to the Kubernetes API server are pooled per identity (activities/kube-config.ts).
// No server is needed: what is checked is which agent each request would go out on.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../activities/kube-config';

const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfigFile(clientCert: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'kube-config-')), 'kubeconfig');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('the CA') } }],
      users: [{ name: 'u', user: { 'client-certificate-data': b64(clientCert), 'client-key-data': b64('the key') } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return path;
}

async function agentOfNextRequest(kube: ReturnType<typeof loadKubeConfig>): Promise<unknown> {
  const context = new RequestContext('https://127.0.0.1:6443/api/v1/namespaces', HttpMethod.GET);
  await kube.applySecurityAuthentication(context);
  return context.getAgent();
}

describe('Kubernetes connections', () => {
  it('go out on one keep-alive agent for every request of one identity', async () => {
    const kube = loadKubeConfig(kubeconfigFile('client certificate A'));
    const first = await agentOfNextRequest(kube);
    expect(first).toBeInstanceOf(HttpsAgent);
    expect((first as HttpsAgent).options.keepAlive).toBe(true);
    for (let i = 0; i < 5; i++) expect(await agentOfNextRequest(kube)).toBe(first);
  });

  it('move to a new agent when the client certificate changes', async () => {
    const kube = loadKubeConfig(kubeconfigFile('client certificate A'));
    const before = await agentOfNextRequest(kube);
    kube.users = kube.users.map((user) => ({ ...user, certData: b64('client certificate B') }));
    const after = await agentOfNextRequest(kube);
    expect(after).not.toBe(before);
    expect(Buffer.from((after as HttpsAgent).options.cert as Buffer).toString()).toBe('client certificate B');
    expect(await agentOfNextRequest(kube)).toBe(after);
  });
});
