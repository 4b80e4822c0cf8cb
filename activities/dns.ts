// The instance's DNS name in Route 53: `<slug>.<baseDomain>` CNAME to the ingress, plus an
// external-dns-style TXT record that says the name is Shipyard's. Changes are UPSERT/DELETE
// batches, each awaited until INSYNC.
import { Context } from '@temporalio/activity';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type Change,
  type ChangeInfo,
  type ResourceRecordSet,
  type RRType,
} from '@aws-sdk/client-route-53';
import { hostnameFor, managedByValue } from '../domain/instance';
import type { ActivityDeps } from './deps';
import { errorTypes, permanent, route53Error } from './errors';
import { pollUntil } from './poll';

export const ownerRecordNameFor = (hostname: string): string => `_shipyard-owner.${hostname}`;
export const ownerRecordValueFor = (slug: string): string => `"heritage=${managedByValue},instance=${slug}"`;

export interface DnsActivityOptions {
  pollIntervalMs?: number;
}

/** Route 53 answers names fully qualified and may escape characters; compare in one form. */
const normalise = (name: string): string => name.toLowerCase().replace(/\.$/, '').replace(/\\052/g, '*');

export function createDnsActivities({ config, route53 }: Pick<ActivityDeps, 'config' | 'route53'>, options: DnsActivityOptions = {}) {
  const zone = config.hostedZoneId;
  const pollIntervalMs = options.pollIntervalMs ?? 2000;

  /** Every record set at exactly `name` (any type). */
  async function recordsAt(name: string): Promise<ResourceRecordSet[]> {
    try {
      // Listing starts at `name` in Route 53's order; a handful covers every type one name can hold.
      const answer = await route53.send(
        new ListResourceRecordSetsCommand({ HostedZoneId: zone, StartRecordName: name, MaxItems: 20 }),
      );
      return (answer.ResourceRecordSets ?? []).filter((r) => r.Name !== undefined && normalise(r.Name) === normalise(name));
    } catch (err) {
      throw route53Error(`list DNS records at ${name}`, err);
    }
  }

  const ownerValues = (records: ResourceRecordSet[]): string[] =>
    records.filter((r) => r.Type === 'TXT').flatMap((r) => (r.ResourceRecords ?? []).map((rr) => rr.Value ?? ''));

  async function changeStatus(changeId: string, what: string): Promise<string> {
    try {
      const { ChangeInfo } = await route53.send(new GetChangeCommand({ Id: changeId }));
      return ChangeInfo?.Status ?? 'no status';
    } catch (err) {
      throw route53Error(`wait for Route 53 change ${changeId} (${what})`, err);
    }
  }

  async function applyChange(what: string, changes: Change[]): Promise<void> {
    let submitted: ChangeInfo | undefined;
    try {
      const answer = await route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zone,
          ChangeBatch: { Comment: `shipyard: ${what}`, Changes: changes },
        }),
      );
      submitted = answer.ChangeInfo;
    } catch (err) {
      throw route53Error(what, err);
    }
    if (submitted?.Status === 'INSYNC') return;
    const changeId = submitted?.Id;
    if (!changeId) throw new Error(`could not ${what}: Route 53 accepted the change but returned no change id to wait on`);
    // Real Route 53 takes up to a minute to reach every name server. The activity's own timeouts
    // bound the wait; the heartbeat says which change it waits on, for the live step. The
    // submission's answer is the first look, so GetChange is first asked after a pause.
    const submittedAt = Date.now();
    await pollUntil(async (attempt) => {
      const status = attempt === 0 ? (submitted?.Status ?? 'PENDING') : await changeStatus(changeId, what);
      if (status === 'INSYNC') return true;
      const waited = Math.round((Date.now() - submittedAt) / 1000);
      return { detail: `waiting for Route 53 change ${changeId} (${what}) to be INSYNC: ${status} after ${waited}s` };
    }, pollIntervalMs);
  }

  return {
    /** UPSERTs the CNAME and its owner record together and waits until Route 53 serves them. */
    async upsertDnsRecord(
      slug: string,
      /** The ingress of the cluster the instance is placed in; SHIPYARD_INGRESS_TARGET in a single-cluster install. */
      target: string = config.ingressTarget,
    ): Promise<void> {
      const hostname = hostnameFor(slug, config.baseDomain);
      const ownerName = ownerRecordNameFor(hostname);
      const ownerValue = ownerRecordValueFor(slug);
      const existing = await recordsAt(hostname);
      if (existing.length > 0) {
        const owners = ownerValues(await recordsAt(ownerName));
        if (!owners.includes(ownerValue)) {
          const held = existing.map((r) => r.Type).join(', ');
          throw permanent(
            `DNS name ${hostname} already has ${held} records that Shipyard did not create ` +
              `(no ${ownerName} TXT ${ownerValue}); pick another slug or remove them by hand`,
            errorTypes.dnsNameTaken,
          );
        }
      }
      const ttl = config.dnsTtlSeconds;
      await applyChange(`point ${hostname} at ${target}`, [
        {
          Action: 'UPSERT',
          ResourceRecordSet: { Name: hostname, Type: 'CNAME', TTL: ttl, ResourceRecords: [{ Value: target }] },
        },
        {
          Action: 'UPSERT',
          ResourceRecordSet: { Name: ownerName, Type: 'TXT', TTL: ttl, ResourceRecords: [{ Value: ownerValue }] },
        },
      ]);
    },

    /**
     * DELETEs the CNAME and owner record with their exact current values and waits for INSYNC.
     * Absent = done. Records at the name that are not Shipyard's are left alone: they are not this
     * instance's, so there is nothing of ours to remove (a provision that met DnsNameTaken must
     * still be able to tear down).
     */
    async deleteDnsRecord(slug: string): Promise<void> {
      const hostname = hostnameFor(slug, config.baseDomain);
      const ownerName = ownerRecordNameFor(hostname);
      const ownerValue = ownerRecordValueFor(slug);
      const ownerRecords = (await recordsAt(ownerName)).filter((r) => r.Type === 'TXT');
      if (!ownerValues(ownerRecords).includes(ownerValue)) {
        const foreign = await recordsAt(hostname);
        if (foreign.length > 0) {
          Context.current().log.warn(`leaving DNS records at ${hostname} alone: they are not Shipyard's`, {
            types: foreign.map((r) => r.Type),
          });
        }
        return;
      }
      const ours = (await recordsAt(hostname)).filter((r) => r.Type === ('CNAME' satisfies RRType));
      // DELETE must repeat the record exactly as it is now (TTL and values), not as we last wrote it.
      const changes: Change[] = [...ours, ...ownerRecords].map((record) => ({ Action: 'DELETE', ResourceRecordSet: record }));
      await applyChange(`remove ${hostname}`, changes);
    },
  };
}
