// A cancel that arrives while a provision waits for Route 53 to report its change INSYNC (real
// Route 53 takes up to a minute; the testbed's zone here is kept PENDING for a few seconds): the
// record the change created is removed with everything else, and nothing is left.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RealOperations, startRealOperations } from '../support/real-operations';
import { type SlowZone, slowHostedZone } from '../support/route53';
import { testConfig, uniqueSuffix } from '../support/config';
import { nothingLeft } from '../support/world';

const SYNC_SECONDS = 5;
let zone: SlowZone;
let ops: RealOperations;

beforeAll(async () => {
  zone = await slowHostedZone(testConfig(), SYNC_SECONDS);
  ops = await startRealOperations({ SHIPYARD_BASE_DOMAIN: zone.config.baseDomain, SHIPYARD_HOSTED_ZONE_ID: zone.config.hostedZoneId });
});
afterAll(async () => {
  await ops?.close();
  await zone?.dispose();
});

it('a provision cancelled during the DNS wait ends cancelled, failed, with nothing left (record and owner TXT included)', async () => {
  const slug = `dnsc-${uniqueSuffix()}`;
  const started = Date.now();
  const outcome = await ops.provision(slug, { injection: { activity: 'upsertDnsRecord', mode: 'cancel' } });
  expect(outcome.injected?.reached).toBe(true);
  expect(outcome.operation.status).toBe('cancelled');
  expect(outcome.instance.status).toBe('failed');
  expect(outcome.operation.steps.find((s) => s.name === 'publish DNS record')).toMatchObject({ status: 'failed', error: 'cancelled' });
  expect(outcome.operation.steps.find((s) => s.name === 'create namespace')?.status).toBe('compensated');
  expect(await ops.world.read(slug)).toMatchObject(nothingLeft);
  // The undo's own DELETE waited out the zone's PENDING too: the DNS wait really ran.
  expect(Date.now() - started).toBeGreaterThanOrEqual(SYNC_SECONDS * 1000);
});
