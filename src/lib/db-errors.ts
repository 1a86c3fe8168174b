/**
 * drizzle wraps D1 errors ("Failed query: …") and keeps the D1 message ("UNIQUE constraint
 * failed: users.username") on `cause`, so the whole chain is read.
 */
function errorChainText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e != null && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(" | ");
}

/** Whether a write failed on a UNIQUE constraint, optionally of `column` (e.g. `users.username`). */
export function isUniqueViolation(err: unknown, column?: string): boolean {
  const text = errorChainText(err);
  return /UNIQUE constraint failed/i.test(text) && (!column || text.includes(column));
}
