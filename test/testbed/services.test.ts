// The testbed's Postgres, Temporal, Route 53 and S3 parts answer the way Shipyard uses them:
// record changes show up in listings and report their sync status, workflows run to
// completion, both database URLs log in, the tenant one with the right to create databases,
// and the backup bucket takes, returns and deletes an object.
import '../support/temporal-runtime';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  ChangeResourceRecordSetsCommand,
  type Change,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; vitest's globalSetup exports the testbed's variables`);
  return value;
}

describe('Route 53 API', () => {
  const zoneId = required('SHIPYARD_HOSTED_ZONE_ID');
  const recordName = `svc-${suffix}.${required('SHIPYARD_BASE_DOMAIN')}.`;
  const record: Change['ResourceRecordSet'] = {
    Name: recordName,
    Type: 'TXT',
    TTL: 60,
    ResourceRecords: [{ Value: '"shipyard testbed"' }],
  };
  let route53: Route53Client;

  beforeAll(() => {
    // Credentials and region come from the AWS_* variables the testbed exports.
    route53 = new Route53Client({ endpoint: required('ROUTE53_ENDPOINT') });
  });
  afterAll(async () => {
    // The zone outlives restarts; leave nothing of this test in it.
    await route53
      ?.send(new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: [{ Action: 'DELETE', ResourceRecordSet: record }] } }))
      .catch(() => undefined);
    route53?.destroy();
  });

  it('lists a record after an UPSERT and answers GetChange for it', async () => {
    const upsert = await route53.send(
      new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: record }] } }),
    );
    expect(upsert.ChangeInfo?.Id).toBeTruthy();

    const change = await route53.send(new GetChangeCommand({ Id: upsert.ChangeInfo!.Id! }));
    expect(['PENDING', 'INSYNC']).toContain(change.ChangeInfo?.Status);

    const listed = await route53.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: recordName, StartRecordType: 'TXT', MaxItems: 1 }),
    );
    expect(listed.ResourceRecordSets).toEqual([expect.objectContaining({ Name: recordName, Type: 'TXT', TTL: 60, ResourceRecords: record.ResourceRecords })]);
  });
});

describe('S3 API', () => {
  const bucket = required('SHIPYARD_BACKUP_BUCKET');
  const key = `testbed-probe/${suffix}.txt`;
  let s3: S3Client;

  beforeAll(() => {
    // Credentials and region come from the AWS_* variables the testbed exports.
    s3 = new S3Client({ endpoint: required('SHIPYARD_S3_ENDPOINT'), forcePathStyle: true });
  });
  afterAll(async () => {
    await s3?.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    s3?.destroy();
  });

  it('has the backup bucket, and puts, gets and deletes an object in it', async () => {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    const body = `shipyard testbed ${suffix}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/plain' }));

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body?.transformToString()).toBe(body);

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({ name: 'NotFound' });
  });
});

describe('Temporal server', () => {
  const address = required('TEMPORAL_ADDRESS');
  const namespace = required('TEMPORAL_NAMESPACE');
  const taskQueue = `testbed-services-${suffix}`;
  let bundle: WorkflowBundleWithSourceMap;
  let connection: Connection;

  beforeAll(async () => {
    // Each test file runs in a fork of its own, so this process-wide setting touches no other file.
    bundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./greet-workflow.ts', import.meta.url)),
      logger: quietLogger,
    });
    connection = await Connection.connect({ address });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('serves its Web UI', async () => {
    const response = await fetch(required('TEMPORAL_UI_URL'));
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it('runs a workflow to completion on a worker', async () => {
    const workerConnection = await NativeConnection.connect({ address });
    try {
      const worker = await Worker.create({ connection: workerConnection, namespace, taskQueue, workflowBundle: bundle });
      const client = new Client({ connection, namespace });
      const result = await worker.runUntil(
        client.workflow.execute('greet', { args: ['testbed'], taskQueue, workflowId: `testbed-greet-${suffix}` }),
      );
      expect(result).toBe('hello, testbed');
    } finally {
      await workerConnection.close();
    }
  });
});

describe('PostgreSQL', () => {
  const connections: postgres.Sql[] = [];
  const connect = (url: string) => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    connections.push(sql);
    return sql;
  };
  afterAll(async () => {
    await Promise.all(connections.map((sql) => sql.end({ timeout: 5 })));
  });

  it('logs the catalogue role in with DATABASE_URL', async () => {
    const sql = connect(required('DATABASE_URL'));
    const [row] = await sql<{ user: string; db: string }[]>`SELECT current_user AS user, current_database() AS db`;
    expect(row).toEqual({ user: 'shipyard', db: 'shipyard' });
  });

  it('lets the TENANT_DATABASE_URL role create and drop a database', async () => {
    const sql = connect(required('TENANT_DATABASE_URL'));
    const database = `testbed_probe_${suffix.replaceAll('-', '_')}`;
    await sql.unsafe(`CREATE DATABASE "${database}"`);
    try {
      const [row] = await sql`SELECT datname FROM pg_database WHERE datname = ${database}`;
      expect(row?.datname).toBe(database);
    } finally {
      await sql.unsafe(`DROP DATABASE IF EXISTS "${database}"`);
    }
  });
});

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};
