/** Milliseconds since the epoch; the one clock the app reads (times are stored as integer ms). */
export const now = (): number => Date.now();

/** Render a stored millisecond time as an ISO 8601 UTC string (null stays null). */
export function iso(ms: number): string;
export function iso(ms: number | null | undefined): string | null;
export function iso(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
