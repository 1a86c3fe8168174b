import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Exact fixed-window counters (src/lib/counters.ts): the login lockout (`user:<id>` or
 * `id:<identifier>`, 15 minutes), one-time code sends (`otp-send:<identifier>`, 15 minutes) and
 * contact syncs (`contacts-sync:<userId>`, an hour). Each row carries the end of its own window,
 * so housekeeping deletes exactly the rows whose window has ended, whatever its length.
 * `expires_at` defaults to 0 (already ended) only for rows written before the column existed;
 * migration 0006 fills those in and every write sets it.
 */
export const windowCounters = sqliteTable(
  "window_counters",
  {
    key: text("key").primaryKey(),
    count: integer("count").notNull(),
    /** When the current window opened (the first count in it). */
    windowStart: integer("window_start").notNull(),
    /** When the current window ends: windowStart plus this counter's window length. */
    expiresAt: integer("expires_at").notNull().default(0),
  },
  (t) => [index("window_counters_expires_idx").on(t.expiresAt)],
);
