// How Shipyard finds a secured Temporal: the standard client configuration that the `temporal`
// CLI and every Temporal SDK read (`@temporalio/envconfig`): a TOML file of profiles
// (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE picks one, else
// `default`) and the TEMPORAL_* variables over it. It is read here once, at boot, by loadConfig
// (domain/config.ts), from the same environment as every other setting, and the profile it
// resolves is kept in the Config: no connection reads the environment or the file again.
// temporal/connection.ts turns it into the options of every connection (Client and worker).
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fromTomlProfile } from '@temporalio/envconfig';
// The SDK's raw loader (the same one loadClientConfigProfile calls): its result still holds
// `disable_host_verification`, which the public profile type drops without a word.
import { tomlLoadClientConfigProfile } from '@temporalio/envconfig/lib/envconfig-toml';
import { type Static, Type } from 'typebox';
import type { Env, Read } from './settings';

/** A certificate or key: a file (read when a connection is made) or the PEM itself. */
const DataSource = Type.Union([Type.Object({ path: Type.String({ minLength: 1 }) }), Type.Object({ data: Type.String() })]);

/** envconfig's ClientConfigProfile, with PEM data as text: what the TOML profile and the variables say. */
export const TemporalProfileSchema = Type.Object({
  /** As the profile or TEMPORAL_ADDRESS give it; connections use Config.temporalAddress (this, else Shipyard's default). */
  address: Type.Optional(Type.String()),
  /** Likewise; connections use Config.temporalNamespace. */
  namespace: Type.Optional(Type.String()),
  apiKey: Type.Optional(Type.String()),
  tls: Type.Optional(
    Type.Object({
      disabled: Type.Optional(Type.Boolean()),
      serverName: Type.Optional(Type.String()),
      clientCert: Type.Optional(DataSource),
      clientKey: Type.Optional(DataSource),
      serverCACert: Type.Optional(DataSource),
    }),
  ),
  grpcMeta: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type TemporalProfile = Static<typeof TemporalProfileSchema>;

/** The variables envconfig reads besides TEMPORAL_PROFILE, for the README's table. */
export const temporalProfileVariables: { env: string; defaultDoc: string; doc: string }[] = [
  {
    env: 'TEMPORAL_CONFIG_FILE',
    defaultDoc: '`~/.config/temporalio/temporal.toml` (if it exists)',
    doc: "the Temporal client configuration file (TOML, `[profile.<name>]` with `address`, `namespace`, `api_key`, `[profile.<name>.tls]`), as the `temporal` CLI reads it; the variables below win over it (see \"Temporal connection\")",
  },
  { env: 'TEMPORAL_API_KEY', defaultDoc: '—', doc: 'API key sent to Temporal (Temporal Cloud); turns TLS on' },
  { env: 'TEMPORAL_TLS', defaultDoc: '— (on with any TLS setting or an API key)', doc: '`true` connects with TLS (the system CAs unless a CA is given), `false` forces plain text' },
  { env: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', defaultDoc: '— (the system CAs)', doc: "PEM file of the CA that signed the server's certificate (or `TEMPORAL_TLS_SERVER_CA_CERT_DATA`, the PEM itself)" },
  { env: 'TEMPORAL_TLS_CLIENT_CERT_PATH', defaultDoc: '—', doc: 'PEM file of the client certificate for mTLS (or `TEMPORAL_TLS_CLIENT_CERT_DATA`); needs the key too' },
  { env: 'TEMPORAL_TLS_CLIENT_KEY_PATH', defaultDoc: '—', doc: "PEM file of the client certificate's private key (or `TEMPORAL_TLS_CLIENT_KEY_DATA`)" },
  { env: 'TEMPORAL_TLS_SERVER_NAME', defaultDoc: "— (the address's host)", doc: "the name the server's certificate must hold (and SNI), when it differs from the address's host" },
  {
    env: 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
    defaultDoc: '`false`',
    doc: "refused when `true`: the Temporal TypeScript SDK always checks the server's name; give `TEMPORAL_TLS_SERVER_NAME` instead",
  },
];

/**
 * TEMPORAL_PROFILE's setting: the profile envconfig resolves from the file and the TEMPORAL_*
 * variables of `env`, checked so that a mistake stops the process at boot naming the variable,
 * not at the first connection. An empty variable counts as unset (as for every Shipyard setting;
 * compose passes unset ones through as empty), except TEMPORAL_GRPC_META_*, where empty removes
 * the header, as in envconfig.
 */
export function readTemporalProfile(_raw: string | undefined, env: Env): Read {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || (value === '' && !name.startsWith('TEMPORAL_GRPC_META_'))) continue;
    vars[name] = value;
  }
  const file = vars.TEMPORAL_CONFIG_FILE ?? defaultConfigFile(vars);
  let raw: ReturnType<typeof tomlLoadClientConfigProfile>;
  let profile: TemporalProfile;
  try {
    // overrideEnvVars: envconfig reads these instead of process.env (TEMPORAL_CONFIG_FILE, HOME included).
    raw = tomlLoadClientConfigProfile({ overrideEnvVars: vars });
    profile = textData(fromTomlProfile(raw));
  } catch (err) {
    const which = vars.TEMPORAL_PROFILE ? `TEMPORAL_PROFILE=${vars.TEMPORAL_PROFILE}` : 'TEMPORAL_CONFIG_FILE';
    return { value: {}, problems: [`${which}: the Temporal client configuration (${file ?? 'no file'}) cannot be used: ${(err as Error).message}`] };
  }
  const problems: string[] = [];
  if (raw.tls?.disable_host_verification === true) {
    problems.push(
      "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION (or the profile's tls.disable_host_verification): the Temporal TypeScript SDK cannot skip checking the server's name; " +
        "give the CA that signed the server's certificate (TEMPORAL_TLS_SERVER_CA_CERT_PATH) and the name it holds (TEMPORAL_TLS_SERVER_NAME)",
    );
  }
  const tls = profile.tls;
  if (tls && !tls.disabled) {
    const pairs = [
      ['clientCert', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'tls.client_cert_path'],
      ['clientKey', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'tls.client_key_path'],
      ['serverCACert', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'tls.server_ca_cert_path'],
    ] as const;
    for (const [field, variable, key] of pairs) {
      const source = tls[field];
      if (!source || !('path' in source)) continue;
      try {
        accessSync(source.path, constants.R_OK);
      } catch (err) {
        const from = vars[variable] === source.path ? variable : `${key} of the Temporal profile in ${file ?? 'the configuration file'}`;
        problems.push(`${from}: cannot read ${source.path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    // envconfig would quietly connect without a certificate when only one half is given.
    if (!tls.clientCert !== !tls.clientKey) {
      problems.push(
        tls.clientCert
          ? 'TEMPORAL_TLS_CLIENT_CERT_PATH (or the profile\'s client certificate) is set without its key: set TEMPORAL_TLS_CLIENT_KEY_PATH too'
          : 'TEMPORAL_TLS_CLIENT_KEY_PATH (or the profile\'s client key) is set without its certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH too',
      );
    }
  }
  return { value: profile, problems };
}

/** envconfig's own default location on Linux (the image's platform), for messages. */
function defaultConfigFile(vars: Record<string, string>): string | undefined {
  const dir = vars.XDG_CONFIG_HOME ?? (vars.HOME ? join(vars.HOME, '.config') : undefined);
  return dir ? join(dir, 'temporalio', 'temporal.toml') : undefined;
}

/** The profile with inline PEM as text (envconfig encodes it to bytes), so the Config stays plain JSON-like data. */
function textData(profile: ReturnType<typeof fromTomlProfile>): TemporalProfile {
  const text = (source: { path: string } | { data: string | Uint8Array } | undefined) =>
    source === undefined || 'path' in source ? source : { data: typeof source.data === 'string' ? source.data : Buffer.from(source.data).toString('utf8') };
  const { tls, ...rest } = profile;
  if (!tls) return rest;
  const { clientCert, clientKey, serverCACert, ...flags } = tls;
  return {
    ...rest,
    tls: {
      ...flags,
      ...(clientCert ? { clientCert: text(clientCert) } : {}),
      ...(clientKey ? { clientKey: text(clientKey) } : {}),
      ...(serverCACert ? { serverCACert: text(serverCACert) } : {}),
    },
  };
}
