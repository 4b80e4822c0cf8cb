// A TLS front of the Temporal dev server that requires a client certificate, so Shipyard's
// secured connections (TEMPORAL_TLS_*, domain/temporal-profile.ts) are tested against real TLS:
// Node's `tls` module (ALPN h2) forwarding bytes to the dev server (temporal-tls-proxy.ts). A CA,
// a server certificate (temporal.shipyard.test, localhost, 127.0.0.1) and a client certificate
// are made once with `openssl` under .shipyard/temporal-tls and kept. It exports its own
// SHIPYARD_TEMPORAL_TLS_* variables, never TEMPORAL_*: the rest of the suite keeps the plain dev
// server, and a test points a Shipyard at this one by setting TEMPORAL_ADDRESS and TEMPORAL_TLS_*.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import {
  assertPortFree,
  type Component,
  daemonRunning,
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

const NAME = 'temporal-tls';
const PORT_VAR = 'SHIPYARD_TEMPORAL_TLS_PORT';
const SERVER_NAME = 'temporal.shipyard.test';
const pkiDir = join(stateDir, 'temporal-tls');
const proxyScript = fileURLToPath(new URL('./temporal-tls-proxy.ts', import.meta.url));
const pki = (file: string) => join(pkiDir, file);

function port(): number {
  return portFromEnv(PORT_VAR, 17233);
}

function variables(): Record<string, string> {
  return {
    SHIPYARD_TEMPORAL_TLS_ADDRESS: `127.0.0.1:${port()}`,
    SHIPYARD_TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    SHIPYARD_TEMPORAL_TLS_CA: pki('ca.crt'),
    SHIPYARD_TEMPORAL_TLS_CLIENT_CERT: pki('client.crt'),
    SHIPYARD_TEMPORAL_TLS_CLIENT_KEY: pki('client.key'),
  };
}

const FILES = ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'client.crt', 'client.key'];

/** The CA and the two certificates, made once (P-256, ten years); a missing file makes them all again. */
async function ensurePki(say: (m: string) => void): Promise<void> {
  if (FILES.every((f) => existsSync(pki(f)))) return;
  const openssl = onPath('openssl');
  if (!openssl) throw new TestbedError(NAME, 'needs `openssl` to make its certificates (apt-get install openssl)');
  ensureDir(pkiDir);
  say(`making a CA, a server certificate (${SERVER_NAME}, 127.0.0.1) and a client certificate in ${pkiDir}`);
  const logFile = logFileFor(NAME);
  const openSsl = (...args: string[]) => run(NAME, openssl, args, { logFile, cwd: pkiDir, timeoutMs: 30_000 });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openSsl('req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=shipyard-testbed-temporal-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaves = {
    server: { subject: `/CN=${SERVER_NAME}`, ext: `extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${SERVER_NAME},DNS:localhost,IP:127.0.0.1\n` },
    client: { subject: '/CN=shipyard-worker', ext: 'extendedKeyUsage=clientAuth\n' },
  };
  for (const [name, leaf] of Object.entries(leaves)) {
    writeFileSync(pki(`${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${leaf.ext}`);
    await openSsl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', leaf.subject);
    await openSsl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650',
      '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  }
}

/** A gRPC call through the front with the client certificate: TLS, the certificate and the dev server behind it all answer. */
async function serving(): Promise<boolean> {
  const connection = await Connection.connect({
    address: variables().SHIPYARD_TEMPORAL_TLS_ADDRESS!,
    connectTimeout: 2_000,
    tls: {
      serverNameOverride: SERVER_NAME,
      serverRootCACertificate: readFileSync(pki('ca.crt')),
      clientCertPair: { crt: readFileSync(pki('client.crt')), key: readFileSync(pki('client.key')) },
    },
  });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

export const temporalTls: Component = {
  name: NAME,
  // Never provided from outside: it fronts whichever Temporal the chain has.
  providedBy: [],

  async up(ctx) {
    const logFile = logFileFor(NAME);
    const address = variables().SHIPYARD_TEMPORAL_TLS_ADDRESS!;
    await ensurePki(ctx.say);
    if (daemonRunning(NAME)) {
      ctx.say(`already running on ${address}; checking it`);
      await waitFor(NAME, `gRPC over TLS on ${address}`, serving, { timeoutMs: 15_000, intervalMs: 250, daemon: NAME, logFile });
      return variables();
    }
    const upstream = ctx.env.TEMPORAL_ADDRESS;
    if (!upstream) throw new TestbedError(NAME, 'no TEMPORAL_ADDRESS to put TLS in front of');
    await assertPortFree(NAME, port(), PORT_VAR);
    ctx.say(`starting the TLS front (client certificate required) on ${address} for ${upstream}`);
    startDaemon(NAME, process.execPath, ['--import', 'tsx', proxyScript, String(port()), upstream, pkiDir], { cwd: repoRoot, logFile });
    await waitFor(NAME, `gRPC over TLS on ${address}`, serving, { timeoutMs: 30_000, intervalMs: 250, daemon: NAME, logFile });
    return variables();
  },

  async down() {
    await stopDaemon(NAME);
  },

  async status() {
    return {
      up: daemonRunning(NAME) && (await portOpen(port())),
      address: `${variables().SHIPYARD_TEMPORAL_TLS_ADDRESS} (TLS, client certificate; CA ${pki('ca.crt')})`,
      log: logFileFor(NAME),
    };
  },
};
