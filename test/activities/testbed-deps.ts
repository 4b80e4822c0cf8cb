// Real clients for the testbed parts that globalSetup brought up (their addresses are in
// process.env), built the same way for every activity test file.
import { randomBytes } from 'node:crypto';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import postgres from 'postgres';
import { loadConfig } from '../../domain/config';
import type { Plan } from '../../domain/instance';
import { loadKubeConfig } from '../../activities/kube-config';
import { noBackups } from '../support/catalogue-rows';

export function testbedDeps() {
  const config = loadConfig(process.env);
  const kube = loadKubeConfig(config.kubeconfig);
  const route53 = new Route53Client({ region: config.awsRegion, endpoint: config.route53Endpoint });
  const s3 = new S3Client({ region: config.awsRegion, endpoint: config.s3Endpoint, forcePathStyle: true });
  const tenantDb = postgres(config.tenantDatabaseUrl, { max: 4, onnotice: () => undefined });
  return { config, kube, route53, s3, tenantDb };
}

/** A slug no other test run uses, so files and reruns never see each other's leftovers. */
export const uniqueSlug = (prefix = 'act'): string => `${prefix}-${randomBytes(4).toString('hex')}`;

export const testPlan: Plan = { name: 'test', cpu: '1', memory: '1Gi', pods: 3, replicas: 2, pricePerHourCents: 1, suspendedPricePerHourCents: 0, dbConnections: 5, ...noBackups };

/** Expects `promise` to reject with a non-retryable ApplicationFailure of `type`; returns its message. */
export async function failure(promise: Promise<unknown>, type: string): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const failure = err as { type?: string; nonRetryable?: boolean; message?: string };
    if (failure.type !== type || failure.nonRetryable !== true) {
      throw new Error(`expected non-retryable ${type}, got ${failure.type ?? 'untyped'}: ${failure.message}`, { cause: err });
    }
    return failure.message ?? '';
  }
  throw new Error(`expected non-retryable ${type}, but it succeeded`);
}
