// How every Temporal client and worker Shipyard creates talks to Temporal: one data converter
// (payload encryption + encoded failures) built here, so no process can start a workflow in
// clear or fail to read what another encrypted.
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter, PayloadCodec, ProtoFailure } from '@temporalio/common';
// The SDK's own decoder for failures it hands out raw (a description's pending activities).
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import type { Config } from '../domain/config';
import { connectOrExplain, explainConnectionFailure, temporalConnectionOptions } from './connection';
import { EncryptionCodec } from './encryption-codec';
import { tracingClientInterceptors } from '../telemetry/temporal';

/**
 * The module exporting Shipyard's failure converter. Workers also need it inside prebuilt
 * workflow bundles: pass it to `bundleWorkflowCode({ failureConverterPath })`.
 */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/** The payload codecs from config: encryption, unless SHIPYARD_ENCRYPTION=off left no keys. */
export function payloadCodecs(config: Config): PayloadCodec[] {
  return config.encryptionKeys.length > 0 ? [new EncryptionCodec(config.encryptionKeys)] : [];
}

/** Without encryption (SHIPYARD_ENCRYPTION=off) failures stay plain too: nothing would hide them. */
export function shipyardDataConverter(config: Config): DataConverter {
  const codecs = payloadCodecs(config);
  return codecs.length > 0 ? { payloadCodecs: codecs, failureConverterPath } : {};
}

/**
 * A Temporal client for `config`'s server and namespace (address, API key and TLS from the
 * standard client configuration: temporal/connection.ts); close `connection` when done. The
 * namespace is described once here, so a key or certificate without access to it fails now, at
 * start, rather than at the first operation. Failures are TemporalConnectionErrors saying why.
 */
export async function connectTemporalClient(config: Config): Promise<{ client: Client; connection: Connection }> {
  const options = temporalConnectionOptions(config);
  const connection = await connectOrExplain(options, (o) => Connection.connect(o));
  try {
    await connection.workflowService.describeNamespace({ namespace: config.temporalNamespace });
  } catch (err) {
    await connection.close();
    throw await explainConnectionFailure(err, options, config.temporalNamespace);
  }
  // While tracing, a workflow started here continues the caller's trace (StartWorkflow span, headers).
  const interceptors = await tracingClientInterceptors();
  const client = new Client({
    connection,
    namespace: config.temporalNamespace,
    dataConverter: shipyardDataConverter(config),
    ...(interceptors ? { interceptors } : {}),
  });
  return { client, connection };
}

/**
 * The message of a failure that the SDK returns raw (e.g. a pending activity's last failure in a
 * workflow description): with encoded failures its plain `message` is only "Encoded failure".
 */
export async function failureMessage(client: Client, failure: ProtoFailure | null | undefined): Promise<string | undefined> {
  try {
    return (await decodeOptionalFailureToOptionalError(client.options.loadedDataConverter, failure))?.message;
  } catch {
    // A key this process lacks: the raw message says at least that something failed.
    return failure?.message ?? undefined;
  }
}
