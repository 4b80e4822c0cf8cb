// The lifecycle's refusals, named by what went wrong rather than by an HTTP status: the lifecycle
// and the activities throw them, `api/problems.ts` maps each to a status and a problem type in
// one table, and a rollout's activity tells "busy" from "refused" by class, not by a 409.

/** One invalid field of a request, for the caller to point at. */
export interface FieldError {
  field: string;
  message: string;
}

/** Something a caller asked for that Shipyard refuses or cannot find; `message` is for the caller. */
export abstract class LifecycleError extends Error {
  constructor(
    message: string,
    readonly fields?: FieldError[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** No such instance, operation, rollout, … (`what` names it for the caller). */
export class NotFound extends LifecycleError {
  constructor(readonly what: string) {
    super(`no ${what}`);
  }
}

/** Another operation runs on the instance: wait for it or cancel it. */
export class OperationRunning extends LifecycleError {
  constructor(
    readonly slug: string,
    readonly operation?: { id: string; kind: string },
  ) {
    super(
      operation
        ? `operation ${operation.id} (${operation.kind}) is running on instance ${slug}; wait for it or cancel it`
        : `another operation is running on instance ${slug}`,
    );
  }
}

/** The thing is in no state for the request (an instance's status, an operation or rollout that has ended). */
export class InvalidTransition extends LifecycleError {}

/** The cluster has no room for what was asked. */
export class InsufficientCapacity extends LifecycleError {}

/**
 * No cluster takes a new instance where it was asked for: every cluster of the region (or the
 * cluster named) is full, drained or offline. Another region or cluster, or later, may do.
 */
export class PlacementRefused extends InsufficientCapacity {}

/** A name that must be unique is in use (a slug, an API key's name), or none could be derived. */
export class NameTaken extends LifecycleError {}

/** The slug asked for (or the DNS name it makes) belongs to another instance. */
export class SlugTaken extends NameTaken {}

/** Another run of the same thing is in the way. */
export class Conflict extends LifecycleError {}

/** A rollout of the same version runs: pause, abort or wait for it. */
export class RolloutRunning extends Conflict {}

/** A backup that may not be removed now: still being taken, or the only way back for a deleted instance. */
export class BackupInUse extends Conflict {}

/** The request is well formed but names something that does not fit (an unknown plan, a selector that selects nothing). */
export class Unprocessable extends LifecycleError {}

/** The placement asked for names nothing Shipyard runs: a region no cluster serves, an unregistered cluster, a cluster outside the region. */
export class PlacementUnserved extends Unprocessable {}

/** The request itself is invalid beyond what its schema can say (a cursor, a time range, a wave list). */
export class InvalidRequest extends LifecycleError {}

/** A dependency did not answer in time (Temporal); the same request may succeed later. */
export class Unavailable extends LifecycleError {}

/**
 * A key bound to an owner asked for something outside that owner: instances for another owner.
 * (What another owner already has is reported as NotFound instead, so its existence is not revealed.)
 */
export class OutOfScope extends LifecycleError {}
