import { z } from "@hono/zod-openapi";
import { and, eq, inArray, isNotNull, ne } from "drizzle-orm";
import { E164_RE, normalizeEmail, normalizePhone } from "../auth/identifiers";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { users } from "../db/schema";
import { enforceWindow, type WindowLimit } from "../lib/counters";
import { AppError } from "../lib/errors";
import { HOUR } from "../lib/time";
import { allowed, loadRelations, publicProfileView } from "../users/visibility";
import { chunked, type ProfileView } from "./people";
import { SYNC_MAX_ENTRIES } from "./schemas";

/**
 * Contact sync is how phone numbers get enumerated, so it is limited per user with an exact D1
 * window (not KV): 20 calls (≤ 20,000 entries) an hour.
 */
export const SYNC_LIMIT: WindowLimit = { max: 20, windowMs: HOUR };
const MAX_ENTRY_LENGTH = 320;
const isEmail = (s: string) => z.email().safeParse(s).success;

type Field = "phones" | "emails";
interface Normalized {
  /** normalized value → the first entry as sent */
  values: Map<string, string>;
  invalid: { field: Field; index: number; value: string }[];
}

/** Normalize one list of entries, keeping the first input of each value and reporting the rest. */
function normalize(field: Field, entries: string[], into: Normalized): void {
  entries.forEach((raw, index) => {
    const value = field === "phones" ? normalizePhone(raw) : normalizeEmail(raw);
    const ok = raw.length <= MAX_ENTRY_LENGTH && (field === "phones" ? E164_RE.test(value) : isEmail(value));
    if (!ok) into.invalid.push({ field, index, value: raw.slice(0, MAX_ENTRY_LENGTH) });
    else if (!into.values.has(value)) into.values.set(value, raw);
  });
}

/** Refuse more than 1,000 entries in total (`413 too_many_entries`), before any lookup. */
export function assertSyncSize(body: { phones?: string[]; emails?: string[] }): void {
  const total = (body.phones?.length ?? 0) + (body.emails?.length ?? 0);
  if (total > SYNC_MAX_ENTRIES) {
    throw new AppError(413, "too_many_entries", `At most ${SYNC_MAX_ENTRIES} phones and emails a call (got ${total}); send them in parts`, {
      max: SYNC_MAX_ENTRIES,
      got: total,
    });
  }
}

/**
 * Find which of the caller's phones and emails belong to people who allow being found that way.
 * A user matches only by a VERIFIED phone/email of an active account, only when their privacy
 * for that field is `everyone`, or `contacts` and they have the caller in their contacts, never
 * when either blocked the other, and never the caller (an unverified address may be held by
 * several accounts and proves nothing). Lookups go through the unique indexes of verified phones
 * and emails in chunks of ≤ 90 values (D1's 100-parameter limit). Read-only: matches are not
 * added to the caller's contacts. Counts against SYNC_LIMIT.
 */
export async function syncContacts(db: Database, callerId: string, body: { phones?: string[]; emails?: string[] }) {
  assertSyncSize(body);
  await enforceWindow(db, `contacts-sync:${callerId}`, SYNC_LIMIT, "rate_limited", "Too many contact syncs");

  const phones: Normalized = { values: new Map(), invalid: [] };
  const emails: Normalized = { values: new Map(), invalid: [] };
  normalize("phones", body.phones ?? [], phones);
  normalize("emails", body.emails ?? [], emails);

  // At most 12 chunks of ≤ 90 values; independent reads, so they run side by side.
  const lookups = (["phone", "email"] as const).flatMap((kind) =>
    chunked([...(kind === "phone" ? phones : emails).values.keys()]).map(async (part) =>
      (await syncLookupQuery(db, kind, part, callerId)).map((row) => ({ row, matched: kind, value: row[kind]! })),
    ),
  );
  const found: { row: UserRow; matched: "phone" | "email"; value: string }[] = (await Promise.all(lookups)).flat();

  const relations = await loadRelations(
    db,
    callerId,
    found.map((f) => f.row.id),
  );
  // Answer in the order of the request: phones first, then emails, each as sent.
  const order = new Map([...phones.values.keys(), ...emails.values.keys()].map((v, i) => [v, i]));
  found.sort((a, b) => order.get(a.value)! - order.get(b.value)!);
  const items = found
    .filter(({ row, matched }) => {
      const rel = relations.get(row.id)!;
      if (rel.self || rel.blockedByOwner || rel.viewerBlockedOwner) return false;
      return allowed(matched === "phone" ? row.privacyPhone : row.privacyEmail, rel);
    })
    .map(({ row, matched, value }) => ({
      userId: row.id,
      matched,
      value,
      input: (matched === "phone" ? phones : emails).values.get(value)!,
      profile: publicProfileView(row, relations.get(row.id)!) as ProfileView,
    }));
  return { items, invalid: [...phones.invalid, ...emails.invalid] };
}

/**
 * Active accounts whose VERIFIED phone/email is one of `values` (≤ 90) and whose privacy for it is
 * not `nobody`, through the unique index of verified phones/emails (exported so tests can check its plan).
 */
export function syncLookupQuery(db: Database, kind: "phone" | "email", values: string[], callerId: string) {
  const [column, verifiedAt, privacy] =
    kind === "phone" ? [users.phone, users.phoneVerifiedAt, users.privacyPhone] : [users.email, users.emailVerifiedAt, users.privacyEmail];
  return db
    .select()
    .from(users)
    .where(
      and(
        isNotNull(column),
        inArray(column, values),
        isNotNull(verifiedAt),
        eq(users.status, "active"),
        ne(privacy, "nobody"),
        ne(users.id, callerId),
      ),
    );
}
