// Shipyard against a Temporal that requires TLS and a client certificate: the testbed's TLS front
// of the dev server (testbed/components/temporal-tls.ts), reached with the standard TEMPORAL_TLS_*
// variables. The worker and the API connect through it and provision an instance; without the
// client certificate both stop at start, non-zero, with one line saying why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess } from '../../demo/processes';
import { createWorker } from '../../worker/index';
import { prebuiltWorkflowBundle, shipyardFromBuild } from '../support/build';
import { testConfig, uniqueSuffix } from '../support/config';
import { freePort, onDemandSweeps, type Stack, startStack } from '../support/stack';

const testbed = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the testbed's temporal-tls component did not run`);
  return value;
};
const address = testbed('SHIPYARD_TEMPORAL_TLS_ADDRESS');
const trustServer = {
  TEMPORAL_ADDRESS: address,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: testbed('SHIPYARD_TEMPORAL_TLS_CA'),
  TEMPORAL_TLS_SERVER_NAME: testbed('SHIPYARD_TEMPORAL_TLS_SERVER_NAME'),
};
const clientCertificate = {
  TEMPORAL_TLS_CLIENT_CERT_PATH: testbed('SHIPYARD_TEMPORAL_TLS_CLIENT_CERT'),
  TEMPORAL_TLS_CLIENT_KEY_PATH: testbed('SHIPYARD_TEMPORAL_TLS_CLIENT_KEY'),
};
const handshakeRefused = `cannot connect to Temporal at ${address}: TLS handshake refused: the server requires a client certificate`;

/** `shipyard <command>` from the build without the client certificate: its exit code and output. */
async function startWithoutCertificate(command: 'worker' | 'api'): Promise<{ code: number | null; lines: string[] }> {
  const lines: string[] = [];
  const env = {
    ...process.env,
    ...onDemandSweeps,
    ...trustServer,
    TEMPORAL_TLS_CLIENT_CERT_PATH: '',
    TEMPORAL_TLS_CLIENT_KEY_PATH: '',
    SHIPYARD_TASK_QUEUE: `tls-${uniqueSuffix()}`,
    SHIPYARD_API_PORT: String(await freePort()),
    SHIPYARD_WORKER_METRICS_PORT: String(await freePort()),
    SHIPYARD_TEMPORAL_METRICS_PORT: String(await freePort()),
  };
  const child = startProcess(command, env, (line) => lines.push(line), shipyardFromBuild);
  const timer = setTimeout(() => void child.stop('SIGKILL'), 60_000);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, lines };
}

let stack: Stack | undefined;
let withoutCertificate: Promise<{ code: number | null; lines: string[] }[]>;

beforeAll(async () => {
  // Side by side: the refused starts mostly wait out the client's connect timeout.
  withoutCertificate = Promise.all([startWithoutCertificate('worker'), startWithoutCertificate('api')]);
  stack = await startStack({ ...trustServer, ...clientCertificate });
});
afterAll(async () => {
  await stack?.stop();
  await withoutCertificate;
});

describe('Temporal over TLS with a client certificate', () => {
  it('worker and API connect through the TLS front and provision an instance', async () => {
    expect(stack!.config.temporalAddress).toBe(address);
    const slug = `tls-${uniqueSuffix()}`;
    const created = await stack!.api.call('POST', '/v1/instances', { name: 'Over TLS', slug, plan: 'starter', ownerEmail: 'ops@tls.test' });
    expect(created.status).toBe(202);
    expect((await stack!.api.settled(created.body.operation.id)).status).toBe('succeeded');
  });

  it('without the client certificate, worker and API stop at start with one line naming the handshake refusal', async () => {
    for (const { code, lines } of await withoutCertificate) {
      const output = lines.join('\n');
      expect(code, output).toBe(1);
      expect(lines.filter((l) => l.includes(handshakeRefused)), output).toHaveLength(1);
      expect(output, 'no stack trace').not.toMatch(/^\S+\s*\|\s+at /m);
    }
  });

  it("the worker's own connection says the same, and names a server certificate it cannot trust", async () => {
    const start = (env: Record<string, string>) =>
      createWorker(testConfig({ ...env, SHIPYARD_TASK_QUEUE: `tls-${uniqueSuffix()}` }), {}, { workflowBundle: prebuiltWorkflowBundle });
    await expect(start({ ...trustServer })).rejects.toThrow(handshakeRefused);
    const { TEMPORAL_TLS_SERVER_CA_CERT_PATH: _ca, ...untrusted } = trustServer;
    await expect(start({ ...untrusted, ...clientCertificate })).rejects.toThrow(
      `cannot connect to Temporal at ${address}: certificate unknown: the server's certificate is not signed by a CA Shipyard trusts`,
    );
  });
});
