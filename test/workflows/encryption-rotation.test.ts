// Key rotation as an operator does it, on the real Temporal server with Shipyard's worker and
// client: runs written under key A stay readable once B is put first, new runs use B, and a
// process that lacks a run's key says which key id it needs.
import '../support/temporal-runtime';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../domain/config';
import { connectTemporalClient, failureConverterPath } from '../../temporal/data-converter';
import { createWorker } from '../../worker/index';
import { testConfig, uniqueSuffix } from '../support/config';
import { payloadsIn, rawHistory } from '../support/history';

const entry = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;
const [a, b, c] = [entry('key-a'), entry('key-b'), entry('key-c')];
const taskQueue = `rotation-${uniqueSuffix()}`;
const configWith = (keys: string) => testConfig({ SHIPYARD_TASK_QUEUE: taskQueue, SHIPYARD_ENCRYPTION_KEYS: keys });

let bundle: WorkflowBundleWithSourceMap;
let plain: Connection;

beforeAll(async () => {
  // ERROR: workers without activities warn that they poll no activity queue.
  bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../testbed/greet-workflow.ts', import.meta.url)),
    failureConverterPath,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  plain = await Connection.connect({ address: configWith(a).temporalAddress });
});
afterAll(async () => {
  await plain?.close();
});

/** Runs `greet(name)` to its end on a worker and client that both use `config`'s keys; returns the workflow id. */
async function greetUnder(config: Config, name: string): Promise<string> {
  const workflowId = `greet-${uniqueSuffix()}`;
  const { worker, connection: workerConnection } = await createWorker(config, {}, { workflowBundle: bundle, shutdownGraceTime: '1s' });
  const { client, connection } = await connectTemporalClient(config);
  try {
    await worker.runUntil(client.workflow.execute('greet', { args: [name], taskQueue, workflowId }));
  } finally {
    await Promise.all([workerConnection.close(), connection.close()]);
  }
  return workflowId;
}

async function keyIdsIn(workflowId: string, config: Config): Promise<string[]> {
  const payloads = payloadsIn(await rawHistory(plain, config.temporalNamespace, workflowId));
  return [...new Set(payloads.map((p) => Buffer.from(p.payload.metadata!['encryption-key-id'] ?? '', 'base64').toString()))];
}

async function resultUnder(config: Config, workflowId: string): Promise<unknown> {
  const { client, connection } = await connectTemporalClient(config);
  try {
    return await client.workflow.getHandle(workflowId).result();
  } finally {
    await connection.close();
  }
}

describe('key rotation', () => {
  it('old runs decode after a new key is put first, new runs use it, and a missing key is named', async () => {
    const underA = configWith(a);
    const old = await greetUnder(underA, 'Secret Customer');
    expect(await keyIdsIn(old, underA)).toEqual(['key-a']);

    const rotated = configWith(`${b},${a}`);
    expect(await resultUnder(rotated, old)).toBe('hello, Secret Customer');
    const fresh = await greetUnder(rotated, 'Next Customer');
    expect(await keyIdsIn(fresh, rotated)).toEqual(['key-b']);

    // Key A dropped too early: reading the old run names the key it needs.
    await expect(resultUnder(configWith(`${c},${b}`), old)).rejects.toThrow(
      'payload was encrypted with key id "key-a", which is not in SHIPYARD_ENCRYPTION_KEYS (known ids: key-c, key-b)',
    );
  });
});
