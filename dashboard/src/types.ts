// What the dashboard reads from the API (/v1): names for the schemas of the generated contract
// (client/openapi.d.ts, kept in step with the routes by a unit test), so a change to a route's
// schema shows up here as a type error instead of a page that quietly reads a missing field.
import type { components } from '../../client/openapi';

type Schemas = components['schemas'];

export type Me = Schemas['Me'];
export type Role = Me['role'];
export type Operation = Schemas['Operation'];
export type Step = Operation['steps'][number];
export type Instance = Schemas['Instance'];
export type HealthReport = Schemas['HealthReport'];
export type AuditEvent = Schemas['Event'];
export type Usage = Schemas['Usage'];
export type Plan = Schemas['Plan'];
export type Backup = Schemas['Backup'];
export type Rollout = Schemas['Rollout'];
export type Counts = Rollout['counts'];
export type RolloutListed = Schemas['RolloutPage']['items'][number];
export type FleetSummary = Schemas['FleetSummary'];
export type InvoiceSummary = Schemas['InvoiceSummary'];
export type Webhook = Schemas['Webhook'];
export type Delivery = Schemas['Delivery'];

/** Every list route answers a page of this shape (InstancePage, RolloutPage, …). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
