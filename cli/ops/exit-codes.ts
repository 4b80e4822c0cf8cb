// What `shipyard`'s exit status means, for scripts: the same few numbers whatever the command.
import { ShipyardProblem, ShipyardUnreachable } from '../../client/index';

export const exitCodes = {
  /** Done; an operation or rollout watched to its end succeeded. */
  ok: 0,
  /** The work ran and did not succeed: an operation failed, was rolled back or cancelled; a rollout halted, failed or was aborted. */
  failed: 1,
  /** The command line is wrong (unknown command or option, missing argument, no connection configured). */
  usage: 2,
  /** The API refused the request or found nothing: 4xx other than 401/403 (the problem's type says which). */
  refused: 3,
  /** The API key is missing, unknown or revoked (401), or not allowed to do this (403). */
  auth: 4,
  /** The API could not be reached, or failed (5xx, 429): the same command may work later. */
  unavailable: 5,
  /** Interrupted (Ctrl-C) while watching: the operation goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** A command line that cannot be run as written. */
export class UsageError extends Error {}

/** The work the command waited for ended without succeeding; the message says how. */
export class WorkFailed extends Error {}

/** The exit status for an error a command ended with. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof WorkFailed) return exitCodes.failed;
  if (error instanceof UsageError) return exitCodes.usage;
  if (error instanceof ShipyardUnreachable) return exitCodes.unavailable;
  if (error instanceof ShipyardProblem) {
    if (error.status === 401 || error.status === 403) return exitCodes.auth;
    if (error.status === 429 || error.status >= 500) return exitCodes.unavailable;
    return exitCodes.refused;
  }
  // Anything else is a fault of the CLI itself, or a reply it could not read.
  return exitCodes.failed;
}

/** One line (two with a hint) saying what went wrong and what to do: never a stack trace. */
export function errorMessage(error: unknown): string {
  if (error instanceof ShipyardProblem) {
    const lines = [`error: ${error.message} (${error.status} ${error.type})`];
    for (const e of error.errors) lines.push(`  ${e.field}: ${e.message}`);
    if (error.status === 401) lines.push('hint: check SHIPYARD_API_KEY or the profile\'s key (`shipyard config set-profile <name> --key …`)');
    if (error.operation) lines.push(`hint: \`shipyard operations watch ${error.operation.id}\` to follow it, \`shipyard operations cancel ${error.operation.id}\` to stop it`);
    return lines.join('\n');
  }
  if (error instanceof ShipyardUnreachable) return `error: ${error.message}\nhint: check SHIPYARD_API_URL or the profile's URL`;
  if (error instanceof Error) return `error: ${error.message}`;
  return `error: ${String(error)}`;
}
