// The testbed's Route 53 (moto) reports every change INSYNC at once, so the wait for a PENDING
// change is checked here against a scripted stand-in for the three calls dns.ts makes.
import { describe, expect, it } from 'vitest';
import type { Route53Client } from '@aws-sdk/client-route-53';
import { createDnsActivities } from '../../activities/dns';
import type { Config } from '../../domain/config';
import { inActivity } from './activity-context';

const config = {
  baseDomain: 'apps.example.test',
  hostedZoneId: 'Z123',
  ingressTarget: 'ingress.apps.example.test',
  dnsTtlSeconds: 60,
} as Config;

function scriptedRoute53(pendingPolls: number) {
  const calls: string[] = [];
  let polls = 0;
  const send = async (command: { constructor: { name: string }; input: unknown }) => {
    const name = command.constructor.name;
    calls.push(name);
    switch (name) {
      case 'ListResourceRecordSetsCommand':
        return { ResourceRecordSets: [] };
      case 'ChangeResourceRecordSetsCommand':
        return { ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } };
      case 'GetChangeCommand':
        polls += 1;
        return { ChangeInfo: { Id: '/change/C1', Status: polls > pendingPolls ? 'INSYNC' : 'PENDING' } };
      default:
        throw new Error(`unexpected ${name}`);
    }
  };
  return { route53: { send } as unknown as Route53Client, calls };
}

describe('waiting for a Route 53 change', () => {
  it('polls GetChange until INSYNC, heartbeating while it waits', async () => {
    const { route53, calls } = scriptedRoute53(2);
    const dns = createDnsActivities({ config, route53 }, { pollIntervalMs: 1 });
    const { heartbeats } = await inActivity(() => dns.upsertDnsRecord('acme'));
    expect(calls.filter((c) => c === 'GetChangeCommand')).toHaveLength(3);
    expect(heartbeats).toHaveLength(3);
    expect(JSON.stringify(heartbeats[0])).toContain('/change/C1');
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
