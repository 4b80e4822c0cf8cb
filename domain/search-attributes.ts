// Shipyard's search attributes: Keyword fields on every run it starts, so `temporal workflow list
// --query` and the Temporal UI find runs by instance, operation kind, plan, version and rollout.
// Their values say no more than the workflow id (`instance:<slug>`, `rollout:<id>`) and the
// catalogue's public names already do; what is private stays in the encrypted memo and payloads.
// Registered by the testbed's dev server, the worker at start (worker/search-attributes.ts) and the
// chart's hook Job. Pure: importable from workflow code and from Node code alike.
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { OperationKind } from './operation-kinds';
import type { RolloutStatus } from './rollouts';

export const searchAttributeKeys = {
  /** The instance's slug. */
  instance: defineSearchAttributeKey('ShipyardInstance', SearchAttributeType.KEYWORD),
  /** The operation's kind (`provision`, `upgrade`, …); a scheduled run's job (`health-sweep`, …). */
  operation: defineSearchAttributeKey('ShipyardOperation', SearchAttributeType.KEYWORD),
  /** The plan the operation leaves the instance on if it succeeds (its current one unless it changes the plan). */
  plan: defineSearchAttributeKey('ShipyardPlan', SearchAttributeType.KEYWORD),
  /** The version the operation leaves the instance at if it succeeds; a rollout's version. */
  version: defineSearchAttributeKey('ShipyardVersion', SearchAttributeType.KEYWORD),
  /** The rollout's id: on the rollout's runs, and on each upgrade it started. */
  rollout: defineSearchAttributeKey('ShipyardRollout', SearchAttributeType.KEYWORD),
  /** A rollout's status (running, paused, halted, succeeded, aborted, failed), kept current by its workflow. */
  rolloutStatus: defineSearchAttributeKey('ShipyardRolloutStatus', SearchAttributeType.KEYWORD),
} as const;

/** Every name, for registering them: all Keyword. */
export const searchAttributeNames = Object.values(searchAttributeKeys).map((key) => key.name);

/** An operation's run. */
export function operationSearchAttributes(run: {
  slug: string;
  kind: OperationKind;
  plan: string;
  version: string;
  rolloutId?: string;
}): SearchAttributePair[] {
  return [
    { key: searchAttributeKeys.instance, value: run.slug },
    { key: searchAttributeKeys.operation, value: run.kind },
    { key: searchAttributeKeys.plan, value: run.plan },
    { key: searchAttributeKeys.version, value: run.version },
    ...(run.rolloutId ? [{ key: searchAttributeKeys.rollout, value: run.rolloutId }] : []),
  ];
}

/** A rollout's run. */
export function rolloutSearchAttributes(rollout: { id: string; version: string; status: RolloutStatus }): SearchAttributePair[] {
  return [
    { key: searchAttributeKeys.rollout, value: rollout.id },
    { key: searchAttributeKeys.version, value: rollout.version },
    { key: searchAttributeKeys.rolloutStatus, value: rollout.status },
  ];
}

/** A run a schedule starts: the job's name in ShipyardOperation (`reconcile`, `health-sweep`, …). */
export const scheduledSearchAttributes = (job: string): SearchAttributePair[] => [{ key: searchAttributeKeys.operation, value: job }];
