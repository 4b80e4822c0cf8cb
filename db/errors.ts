// Database errors that callers turn into answers (a taken slug, a second running operation).

/**
 * Whether `err` is a unique violation — of `constraint`, when one is named. Looks through `cause`
 * too: drizzle wraps the driver's error in its own.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint_name?: string; cause?: unknown };
  if (e?.code === '23505' && (constraint === undefined || e.constraint_name === constraint)) return true;
  return e?.cause !== undefined && isUniqueViolation(e.cause, constraint);
}
