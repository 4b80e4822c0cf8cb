// DNS activities against the testbed's Route 53 API (moto), in the hosted zone it created.
import { afterAll, describe, expect, it } from 'vitest';
import { ChangeResourceRecordSetsCommand, ListResourceRecordSetsCommand, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import { createDnsActivities } from '../../activities/dns';
import { inActivity } from './activity-context';
import { failure, testbedDeps, uniqueSlug } from './testbed-deps';

const deps = testbedDeps();
const dns = createDnsActivities(deps, { pollIntervalMs: 100 });
const { config, route53 } = deps;
const run = <T>(fn: () => Promise<T>) => inActivity(fn).then((r) => r.result);

/** Every record set in the zone that belongs to `hostname` or its owner record. */
async function recordsFor(hostname: string): Promise<ResourceRecordSet[]> {
  const all: ResourceRecordSet[] = [];
  let start: { StartRecordName?: string; StartRecordType?: ResourceRecordSet['Type'] } = {};
  for (;;) {
    const page = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: config.hostedZoneId, ...start }));
    all.push(...(page.ResourceRecordSets ?? []));
    if (!page.IsTruncated) break;
    start = { StartRecordName: page.NextRecordName, StartRecordType: page.NextRecordType };
  }
  const names = new Set([`${hostname}.`, `_shipyard-owner.${hostname}.`]);
  return all.filter((r) => names.has(r.Name!.toLowerCase()));
}

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe('DNS record', () => {
  it('upserts the CNAME and its owner record once, however often it runs, and waits until in sync', async () => {
    const slug = uniqueSlug('dns');
    const hostname = `${slug}.${config.baseDomain}`;
    cleanups.push(() => run(() => dns.deleteDnsRecord(slug)));

    await run(() => dns.upsertDnsRecord(slug));
    const first = await recordsFor(hostname);
    await run(() => dns.upsertDnsRecord(slug));
    const second = await recordsFor(hostname);

    expect(second).toEqual(first);
    expect(first.map((r) => [r.Name, r.Type, r.TTL, r.ResourceRecords?.map((v) => v.Value)]).sort()).toEqual([
      [`${hostname}.`, 'CNAME', config.dnsTtlSeconds, [config.ingressTarget]],
      [`_shipyard-owner.${hostname}.`, 'TXT', config.dnsTtlSeconds, [`"heritage=shipyard,instance=${slug}"`]],
    ].sort());
  });

  it('deletes both records; deleting what is absent is done', async () => {
    const slug = uniqueSlug('dns');
    const hostname = `${slug}.${config.baseDomain}`;
    await run(() => dns.upsertDnsRecord(slug));
    await run(() => dns.deleteDnsRecord(slug));
    expect(await recordsFor(hostname)).toEqual([]);
    await run(() => dns.deleteDnsRecord(slug));
  });

  it('refuses a name held by records Shipyard did not create, and leaves them alone on delete', async () => {
    const slug = uniqueSlug('dns');
    const hostname = `${slug}.${config.baseDomain}`;
    const foreign: ResourceRecordSet = { Name: hostname, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.10' }] };
    const change = (Action: 'UPSERT' | 'DELETE') =>
      route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: config.hostedZoneId,
          ChangeBatch: { Changes: [{ Action, ResourceRecordSet: foreign }] },
        }),
      );
    await change('UPSERT');
    cleanups.push(() => change('DELETE'));

    const message = await failure(run(() => dns.upsertDnsRecord(slug)), 'DnsNameTaken');
    expect(message).toContain(hostname);
    await run(() => dns.deleteDnsRecord(slug));
    const left = await recordsFor(hostname);
    expect(left.map((r) => r.Type)).toEqual(['A']);
  });
});
