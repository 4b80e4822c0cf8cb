// A hosted zone of a test's own on the testbed's Route 53, whose changes read PENDING for a
// few seconds before INSYNC, as real Route 53's do. Slowing only this zone (not the shared
// server's default) keeps every other test file running side by side at full speed.
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import type { Config } from '../../domain/config';
import { setRoute53SyncSeconds } from '../../testbed/components/route53';
import { uniqueSuffix } from './config';

export interface SlowZone {
  /** `config` with the zone's base domain and id: hand it to the activities under test. */
  config: Config;
  /** Removes every record left in the zone, then the zone itself. */
  dispose(): Promise<void>;
}

export async function slowHostedZone(config: Config, syncSeconds: number): Promise<SlowZone> {
  if (!config.route53Endpoint) throw new Error('slowHostedZone needs the testbed Route 53 (ROUTE53_ENDPOINT)');
  const route53 = new Route53Client({ region: config.awsRegion, endpoint: config.route53Endpoint });
  const baseDomain = `sync-${uniqueSuffix()}.${config.baseDomain}`;
  const created = await route53.send(new CreateHostedZoneCommand({ Name: baseDomain, CallerReference: `shipyard-test:${baseDomain}` }));
  const hostedZoneId = created.HostedZone!.Id!.replace(/^\/hostedzone\//, '');
  try {
    await setRoute53SyncSeconds(config.route53Endpoint, syncSeconds, hostedZoneId);
  } catch (err) {
    await route53.send(new DeleteHostedZoneCommand({ Id: hostedZoneId }));
    route53.destroy();
    throw err;
  }
  return {
    config: { ...config, baseDomain, hostedZoneId },
    async dispose() {
      try {
        const { ResourceRecordSets = [] } = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: hostedZoneId }));
        const leftovers = ResourceRecordSets.filter((r) => r.Type !== 'NS' && r.Type !== 'SOA');
        if (leftovers.length > 0) {
          await route53.send(
            new ChangeResourceRecordSetsCommand({
              HostedZoneId: hostedZoneId,
              ChangeBatch: { Changes: leftovers.map((record) => ({ Action: 'DELETE', ResourceRecordSet: record })) },
            }),
          );
        }
        await route53.send(new DeleteHostedZoneCommand({ Id: hostedZoneId }));
        await setRoute53SyncSeconds(config.route53Endpoint!, null, hostedZoneId);
      } finally {
        route53.destroy();
      }
    },
  };
}
