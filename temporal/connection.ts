// The options of every connection Shipyard opens to Temporal (the Client's, the worker's
// NativeConnection), built in one place from the Config, and a failed connection explained in one
// line: the SDKs' own errors often say only "transport error" or "failed to connect before the
// deadline", so a failure is followed by a TLS probe of the same address with the same settings.
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { toClientOptions } from '@temporalio/envconfig';
import type { Config } from '../domain/config';

/** What both the Client's `Connection.connect` and the worker's `NativeConnection.connect` take. */
export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  /** `false` or absent: plain text; `true`: TLS with the system CAs; or the CA, client pair, server name. */
  tls?: TLSConfig | boolean;
  metadata?: Record<string, string>;
}

/**
 * The connection options from the profile resolved at boot (domain/temporal-profile.ts), with
 * Shipyard's address. envconfig's own conversion: TLS when the profile has TLS settings or an API
 * key; certificate files are read here, at each connection (they were checked at boot).
 */
export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const { connectionOptions } = toClientOptions({ ...config.temporalProfile, address: config.temporalAddress, namespace: config.temporalNamespace });
  const { apiKey, tls, metadata } = connectionOptions;
  return {
    address: config.temporalAddress,
    ...(typeof apiKey === 'string' ? { apiKey } : {}),
    ...(tls ? { tls } : {}),
    ...(metadata ? { metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)])) } : {}),
  };
}

/** A connection to Temporal that could not be made; its message is one line saying why, naming the address. */
export class TemporalConnectionError extends Error {
  constructor(
    readonly address: string,
    reason: string,
  ) {
    super(`cannot connect to Temporal at ${address}: ${reason}`);
    this.name = 'TemporalConnectionError';
  }
}

/** Opens a connection with `connect`; a failure becomes a TemporalConnectionError that says why. */
export async function connectOrExplain<T>(options: TemporalConnectionOptions, connect: (options: TemporalConnectionOptions) => Promise<T>): Promise<T> {
  try {
    return await connect(options);
  } catch (err) {
    throw await explainConnectionFailure(err, options);
  }
}

// gRPC status codes (the client's errors carry the number, the worker's the name).
const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
const NOT_FOUND = 5;

/** Why a connection (or its first call) failed, in one line: gRPC status, else what a TLS probe finds, else the SDK's words. */
export async function explainConnectionFailure(err: unknown, options: TemporalConnectionOptions, namespace?: string): Promise<TemporalConnectionError> {
  const said = oneLine(err);
  const code = grpcCode(err);
  const credentials = options.apiKey
    ? 'the API key (TEMPORAL_API_KEY)'
    : options.tls && typeof options.tls === 'object' && options.tls.clientCertPair
      ? 'the client certificate'
      : 'a connection without credentials (give TEMPORAL_API_KEY or a client certificate)';
  if (code === UNAUTHENTICATED || /\bunauthenticated\b|\bunauthorized\b/i.test(said)) {
    return new TemporalConnectionError(options.address, `unauthorized: the server refused ${credentials} (${said})`);
  }
  if (code === PERMISSION_DENIED || /permission ?denied/i.test(said)) {
    return new TemporalConnectionError(options.address, `permission denied${namespace ? ` on namespace ${namespace}` : ''} for ${credentials} (${said})`);
  }
  if (code === NOT_FOUND && namespace) {
    return new TemporalConnectionError(options.address, `namespace ${namespace} does not exist there (TEMPORAL_NAMESPACE) (${said})`);
  }
  const probed = await probe(options).catch(() => undefined);
  return new TemporalConnectionError(options.address, probed ?? said);
}

function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** The error and its causes' messages, on one line. */
function oneLine(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
  }
  return parts.join(': ').replace(/\s+/g, ' ').trim() || 'unknown error';
}

const PROBE_TIMEOUT_MS = 5_000;

/** host and port of `host:port` / `[v6]:port` (Temporal's default port when none). */
function hostPort(address: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(address) ?? /^([^:]+)(?::(\d+))?$/.exec(address);
  return { host: match?.[1] ?? address, port: Number(match?.[2] ?? 7233) };
}

/**
 * Connects to the address as the SDK would (TLS with the same CA, client pair and server name,
 * ALPN h2; or plain text), and names what goes wrong: undefined when nothing does.
 */
function probe(options: TemporalConnectionOptions): Promise<string | undefined> {
  const { host, port } = hostPort(options.address);
  const tls = options.tls === true ? {} : options.tls || undefined;
  return new Promise((resolve) => {
    let socket: Socket;
    const done = (reason: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`), PROBE_TIMEOUT_MS);
    if (tls) {
      const name = tls.serverNameOverride ?? host;
      socket = tlsConnect({
        host,
        port,
        // SNI takes no IP address; the name check is against the overriding name, as gRPC's.
        ...(isIP(name) ? {} : { servername: name }),
        checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
        ...(tls.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
        ...(tls.clientCertPair ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) } : {}),
        ALPNProtocols: ['h2'],
      });
      // TLS 1.3: the server judges the client's certificate after the client finished, so a
      // refusal arrives as an alert just after `secureConnect`; the HTTP/2 preface draws it out.
      socket.once('secureConnect', () => socket.write(H2_PREFACE));
      socket.once('data', () => done(undefined));
      socket.once('error', (err) => done(tlsReason(err as NodeJS.ErrnoException, tls, name)));
      socket.once('end', () => done('TLS handshake refused: the server closed the connection right after the handshake'));
    } else {
      socket = tcpConnect({ host, port }, () => socket.write(H2_PREFACE));
      socket.once('data', (data: Buffer) =>
        // 0x15 / 0x16: a TLS alert or handshake record in answer to plain HTTP/2.
        done(
          data[0] === 0x15 || data[0] === 0x16
            ? 'the server expects TLS: set TEMPORAL_TLS=true (and TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA) or use a profile with TLS'
            : undefined,
        ),
      );
      socket.once('error', (err) => done(socketReason(err as NodeJS.ErrnoException, host)));
      socket.once('end', () => done('the server closed the connection without answering (does it expect TLS? set TEMPORAL_TLS=true)'));
    }
  });
}

/** The client preface and an empty SETTINGS frame: what a gRPC client sends first. */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

function socketReason(err: NodeJS.ErrnoException, host: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens there; is TEMPORAL_ADDRESS right?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${host}`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `unreachable (${err.code})`;
    case 'ECONNRESET':
      return 'the server reset the connection';
    default:
      return `${err.code ?? 'error'}: ${err.message}`;
  }
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

function tlsReason(err: NodeJS.ErrnoException, tls: TLSConfig, name: string): string {
  const code = err.code ?? '';
  const alert = /alert ([a-z ]+)/i.exec(err.message)?.[1]?.trim();
  if (UNTRUSTED.has(code)) {
    return `certificate unknown: the server's certificate is not signed by a CA Shipyard trusts (${code}); give that CA with TEMPORAL_TLS_SERVER_CA_CERT_PATH`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the server's certificate is not valid now (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate is not issued for "${name}" (${err.message}); set TEMPORAL_TLS_SERVER_NAME to a name it holds`;
  }
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || (!tls.clientCertPair && code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE')) {
    return 'TLS handshake refused: the server requires a client certificate (set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)';
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|HANDSHAKE_FAILURE)$/.test(code)) {
    return `TLS handshake refused: the server does not accept Shipyard's client certificate (alert: ${alert ?? code})`;
  }
  if (code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') return 'TLS handshake refused: the server does not speak HTTP/2 (ALPN h2)';
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL/.test(code) || /wrong version number/.test(err.message)) {
    return 'the server does not speak TLS there (plain text?): unset TEMPORAL_TLS and the TLS settings, or use its TLS address';
  }
  if (code === 'ECONNRESET') return 'TLS handshake refused: the server reset the connection during the handshake';
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `TLS handshake failed (${alert ? `alert: ${alert}` : err.message})`;
  return socketReason(err, name);
}
