// How a failure of the outside world reaches Temporal. Permanent faults become non-retryable
// ApplicationFailures with a named type, so a workflow fails (or compensates) at once instead of
// retrying a request that can never succeed; transient faults stay plain Errors, which the
// workflow's retry policy retries. Activities never loop on errors themselves.
import { ApplicationFailure } from '@temporalio/common';
import { ApiException } from '@kubernetes/client-node';

/** The error types Shipyard's activities raise as non-retryable, for workflows and operators to match on. */
export const errorTypes = {
  /** A request the API rejected as malformed or invalid (Kubernetes 400/422, Route 53 InvalidInput, bad plan). */
  invalidSpec: 'InvalidSpec',
  /** Credentials lack a permission; retrying will not grant it. */
  forbidden: 'Forbidden',
  /** Something the step depends on does not exist (a CRD, a namespace, a hosted zone, a role). */
  missingDependency: 'MissingDependency',
  /** An object with Shipyard's name exists but carries no Shipyard ownership mark. */
  notOwned: 'NotOwned',
  /** The DNS name is already in use by records Shipyard did not create. */
  dnsNameTaken: 'DnsNameTaken',
  /** A Deployment did not become ready before its deadline. */
  rolloutTimeout: 'RolloutTimeout',
  /** The instance's catalogue status moved since the operation was accepted (compare-and-set failed). */
  instanceMoved: 'InstanceMoved',
  /** A catalogue write found no row to change: the catalogue and Temporal disagree. */
  catalogueRowMissing: 'CatalogueRowMissing',
  /** A rollout's pods found no node for longer than the grace period (the scheduler says why). */
  unschedulable: 'Unschedulable',
  /** A rollout's image cannot be pulled (ErrImagePull, ImagePullBackOff, InvalidImageName). */
  imagePullFailed: 'ImagePullFailed',
  /** The Deployment runs another image than the operation applied: someone changed it meanwhile. */
  workloadChanged: 'WorkloadChanged',
  /** The cluster cannot hold the requested plan next to every other instance's quota. */
  insufficientCapacity: 'InsufficientCapacity',
  /** A webhook URL that is not http(s), or that resolves to a private, loopback or link-local address. */
  webhookTargetRefused: 'WebhookTargetRefused',
  /** A backup's object is missing, or its bytes do not match the checksum or size the catalogue recorded. */
  backupCorrupt: 'BackupCorrupt',
  /** A backup that is not `completed` (running, failed, expired), or whose sealing key is gone: nothing can be read from it. */
  backupNotUsable: 'BackupNotUsable',
  /** What a backup reads is not there: the tenant database or role, or the instance's Secret. */
  backupSourceMissing: 'BackupSourceMissing',
} as const;

export type ShipyardErrorType = (typeof errorTypes)[keyof typeof errorTypes];

export const nonRetryableErrorTypes: readonly ShipyardErrorType[] = Object.values(errorTypes);

export function permanent(message: string, type: ShipyardErrorType, cause?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: true,
    cause: cause instanceof Error ? cause : undefined,
  });
}

export const notOwned = (what: string, why: string): ApplicationFailure =>
  permanent(`refusing to touch ${what}: ${why}; it was not created by Shipyard (or its ownership mark was removed)`, errorTypes.notOwned);

// ---------------------------------------------------------------------------------------------
// Kubernetes

export function isKubeNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** The API server's own explanation (a v1 Status), falling back to the HTTP code. */
function kubeReason(err: ApiException<unknown>): string {
  let body: unknown = err.body;
  if (typeof err.body === 'string') {
    const text = err.body;
    try {
      body = JSON.parse(text);
    } catch {
      return text.trim() || `HTTP ${err.code}`;
    }
  }
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  return `HTTP ${err.code}`;
}

/**
 * Turns a failed Kubernetes call into the error the activity throws. `action` names what was
 * attempted in operator terms, e.g. `apply Deployment tenant-acme/app`.
 */
export function kubeError(action: string, err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof ApiException)) {
    // No HTTP answer at all (connection refused, reset, DNS, TLS): the API server may come back.
    const reason = err instanceof Error ? err.message : String(err);
    return new Error(`could not ${action}: Kubernetes API unreachable: ${reason}`, { cause: err });
  }
  const message = `could not ${action}: Kubernetes answered ${err.code}: ${kubeReason(err)}`;
  switch (err.code) {
    case 400:
    case 422:
      return permanent(message, errorTypes.invalidSpec, err);
    case 401:
    case 403:
      // 403 also covers "namespace is being terminated"; callers that can meet that case check
      // for it before writing, so reaching here means a real permission problem.
      return permanent(message, errorTypes.forbidden, err);
    case 404:
      return permanent(message, errorTypes.missingDependency, err);
    default:
      // 409 (conflict), 429 (throttled), 5xx and anything unexpected: worth another attempt.
      return new Error(message, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// Route 53 (AWS SDK v3 service exceptions carry `name` and `$fault`)

interface AwsServiceError {
  name: string;
  message: string;
  $fault?: 'client' | 'server';
}

function isAwsServiceError(err: unknown): err is AwsServiceError {
  return err instanceof Error && '$fault' in err;
}

// Client-side faults that are nonetheless transient: the request was fine, the timing was not.
const transientAwsClientErrors = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'RequestTimeout',
  'RequestExpired',
]);

export function route53Error(action: string, err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!isAwsServiceError(err)) {
    const reason = err instanceof Error ? err.message : String(err);
    return new Error(`could not ${action}: Route 53 unreachable: ${reason}`, { cause: err });
  }
  const message = `could not ${action}: Route 53 answered ${err.name}: ${err.message}`;
  if (err.$fault === 'server' || transientAwsClientErrors.has(err.name)) return new Error(message, { cause: err });
  switch (err.name) {
    case 'AccessDenied':
    case 'AccessDeniedException':
    case 'InvalidClientTokenId':
    case 'UnrecognizedClientException':
    case 'SignatureDoesNotMatch':
      return permanent(message, errorTypes.forbidden, err);
    case 'NoSuchHostedZone':
    case 'NoSuchChange':
      return permanent(message, errorTypes.missingDependency, err);
    default:
      // InvalidChangeBatch, InvalidInput, InvalidDomainName, …: the request itself is wrong.
      return permanent(message, errorTypes.invalidSpec, err);
  }
}

// ---------------------------------------------------------------------------------------------
// S3 (the same SDK error shape; an object that is not there is the caller's business, see
// isS3NotFound, since for a backup it means "corrupt" and for a delete it means "done")

export function isS3NotFound(err: unknown): boolean {
  if (!isAwsServiceError(err)) return false;
  // A missing bucket is a 404 too, and no "done": the configuration names a bucket that is not there.
  if (err.name === 'NoSuchBucket') return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.name === 'NoSuchUpload' || status === 404;
}

/** `endpoint` names where the request went (SHIPYARD_S3_ENDPOINT, or AWS's own), for an unreachable one. */
export function s3Error(action: string, err: unknown, endpoint: string | undefined): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!isAwsServiceError(err)) {
    const reason = err instanceof Error ? err.message || err.name : String(err);
    const code = (err as { code?: unknown }).code;
    const detail = typeof code === 'string' && !reason.includes(code) ? `${code} ${reason}` : reason;
    return new Error(`could not ${action}: S3 unreachable at ${endpoint ?? "AWS's endpoint"}: ${detail}`, { cause: err });
  }
  const message = `could not ${action}: S3 answered ${err.name}: ${err.message}`;
  if (err.$fault === 'server' || transientAwsClientErrors.has(err.name) || err.name === 'SlowDown') return new Error(message, { cause: err });
  switch (err.name) {
    case 'AccessDenied':
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'AllAccessDisabled':
      return permanent(message, errorTypes.forbidden, err);
    case 'NoSuchBucket':
      return permanent(message, errorTypes.missingDependency, err);
    default:
      return permanent(message, errorTypes.invalidSpec, err);
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres (postgres.js errors carry the SQLSTATE in `code`)

interface PgServerError {
  code: string;
  message: string;
}

function isPgServerError(err: unknown): err is PgServerError {
  return err instanceof Error && err.name === 'PostgresError' && typeof (err as { code?: unknown }).code === 'string';
}

export function postgresError(action: string, err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!isPgServerError(err)) {
    const reason = err instanceof Error ? err.message : String(err);
    return new Error(`could not ${action}: tenant Postgres unreachable: ${reason}`, { cause: err });
  }
  const message = `could not ${action}: Postgres answered ${err.code}: ${err.message}`;
  const sqlClass = err.code.slice(0, 2);
  // 08 connection, 40 serialization/deadlock, 53 resources, 55 object in use, 57 shutdown/cancel,
  // 58 system I/O: the same statement can succeed later.
  if (['08', '40', '53', '55', '57', '58', 'XX'].includes(sqlClass)) return new Error(message, { cause: err });
  if (err.code === '42501' || sqlClass === '28') return permanent(message, errorTypes.forbidden, err);
  if (err.code === '42704' || err.code === '3D000') return permanent(message, errorTypes.missingDependency, err);
  return permanent(message, errorTypes.invalidSpec, err);
}
