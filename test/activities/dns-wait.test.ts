// Waiting for Route 53 changes. The testbed's Route 53 keeps a change PENDING for as long as it
// is told (SHIPYARD_ROUTE53_SYNC_SECONDS, or per zone at run time): the wait runs against that,
// in a zone of the test's own. Mapping of Route 53 errors is checked with scripted answers.
import { afterAll, describe, expect, it } from 'vitest';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { createDnsActivities } from '../../activities/dns';
import type { Config } from '../../domain/config';
import type { WaitHeartbeat } from '../../domain/instance';
import { testConfig, uniqueSuffix } from '../support/config';
import { slowHostedZone } from '../support/route53';
import { inActivity } from './activity-context';

const config = {
  baseDomain: 'apps.example.test',
  hostedZoneId: 'Z123',
  ingressTarget: 'ingress.apps.example.test',
  dnsTtlSeconds: 60,
} as Config;

describe('waiting for a Route 53 change', () => {
  const testbed = testConfig();
  const route53 = new Route53Client({ region: testbed.awsRegion, endpoint: testbed.route53Endpoint });
  afterAll(() => route53.destroy());

  it('waits while the change is PENDING, saying which change it waits on, and succeeds once INSYNC', async () => {
    const syncSeconds = 3;
    const zone = await slowHostedZone(testbed, syncSeconds);
    try {
      const dns = createDnsActivities({ config: zone.config, route53 }, { pollIntervalMs: 250 });
      const slug = `dns-${uniqueSuffix()}`;
      const hostname = `${slug}.${zone.config.baseDomain}`;

      const started = Date.now();
      const { heartbeats } = await inActivity(() => dns.upsertDnsRecord(slug));
      expect(Date.now() - started).toBeGreaterThanOrEqual(syncSeconds * 1000);
      const details = (heartbeats as WaitHeartbeat[]).map((h) => h.detail);
      expect(details.length).toBeGreaterThan(2);
      expect(details[0]).toMatch(new RegExp(`^waiting for Route 53 change /change/C[A-Z0-9]+ \\(point ${hostname} at .*\\) to be INSYNC: PENDING`));
      const listed = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.config.hostedZoneId }));
      expect(listed.ResourceRecordSets?.map((r) => `${r.Name} ${r.Type}`)).toEqual(
        expect.arrayContaining([`${hostname}. CNAME`, `_shipyard-owner.${hostname}. TXT`]),
      );

      // The delete waits the same way.
      const removal = await inActivity(() => dns.deleteDnsRecord(slug));
      expect((removal.heartbeats as WaitHeartbeat[])[0]?.detail).toMatch(/^waiting for Route 53 change \/change\/C[A-Z0-9]+ \(remove .*\) to be INSYNC: PENDING/);
    } finally {
      await zone.dispose();
    }
  });

  it('turns an invalid change batch into a non-retryable InvalidSpec', async () => {
    const route53 = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'ListResourceRecordSetsCommand') return { ResourceRecordSets: [] };
        throw Object.assign(new Error('Tried to create a CNAME at the zone apex'), { name: 'InvalidChangeBatch', $fault: 'client' });
      },
    } as unknown as Route53Client;
    const dns = createDnsActivities({ config, route53 });
    await expect(inActivity(() => dns.upsertDnsRecord('acme'))).rejects.toMatchObject({
      type: 'InvalidSpec',
      nonRetryable: true,
      message: expect.stringContaining('InvalidChangeBatch'),
    });
  });

  it('leaves throttling to the retry policy', async () => {
    const route53 = {
      send: async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client' });
      },
    } as unknown as Route53Client;
    const dns = createDnsActivities({ config, route53 });
    const err = await inActivity(() => dns.upsertDnsRecord('acme')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { nonRetryable?: boolean }).nonRetryable).toBeUndefined();
    expect((err as Error).message).toContain('Rate exceeded');
  });
});
