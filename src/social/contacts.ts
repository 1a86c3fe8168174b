import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { contacts, users } from "../db/schema";
import { notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { profilesFor, refuseSelf, requireVisibleUser, VISIBLE_STATUSES } from "./people";

type ContactRow = typeof contacts.$inferSelect;

/** A contact as its owner sees it: the public profile plus the owner's nickname and when added. */
async function contactItems(db: Database, ownerId: string, rows: { user: UserRow; contact: ContactRow }[]) {
  const view = await profilesFor(
    db,
    ownerId,
    rows.map((r) => r.user),
  );
  return (r: { user: UserRow; contact: ContactRow }) => ({
    ...view(r.user),
    nickname: r.contact.nickname,
    addedAt: iso(r.contact.createdAt),
  });
}

/**
 * Add `contactId` to `ownerId`'s contacts, or update the nickname of an existing contact
 * (`nickname` undefined keeps it, null clears it). Returns the contact and whether it was new.
 * Adding yourself is `400 cannot_add_self`; unknown, deleted or banned users answer 404.
 */
export async function addContact(db: Database, ownerId: string, contactId: string, nickname: string | null | undefined) {
  refuseSelf(ownerId, contactId, "cannot_add_self", "You cannot add yourself to your contacts");
  const user = await requireVisibleUser(db, contactId);
  const [inserted] = await db
    .insert(contacts)
    .values({ ownerId, contactId, nickname: nickname ?? null, createdAt: now() })
    .onConflictDoNothing()
    .returning();
  let contact = inserted;
  if (!contact) {
    const where = and(eq(contacts.ownerId, ownerId), eq(contacts.contactId, contactId));
    [contact] =
      nickname === undefined
        ? await db.select().from(contacts).where(where)
        : await db.update(contacts).set({ nickname }).where(where).returning();
  }
  // Removed by a concurrent DELETE between the two statements: report it as gone.
  if (!contact) throw notFound("Contact");
  const view = await contactItems(db, ownerId, [{ user, contact }]);
  return { created: !!inserted, contact: view({ user, contact }) };
}

/** Remove `contactId` from `ownerId`'s contacts; `404 not_found` when it was not there. */
export async function removeContact(db: Database, ownerId: string, contactId: string): Promise<void> {
  const deleted = await db
    .delete(contacts)
    .where(and(eq(contacts.ownerId, ownerId), eq(contacts.contactId, contactId)))
    .returning({ id: contacts.contactId });
  if (deleted.length === 0) throw notFound("Contact");
}

const ContactCursor = z.object({ id: z.string() });

/**
 * `ownerId`'s contacts, keyset-paginated on the contacts primary key (owner, contact id): O(page)
 * rows, ordered by the contact's id (UUIDv7, i.e. account age). Deleted and banned accounts are
 * left out. One loadRelations call per page.
 */
export async function listContacts(db: Database, ownerId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, ContactCursor);
  const rows = await contactsPageQuery(db, ownerId, limit, after?.id);
  const view = await contactItems(db, ownerId, rows.slice(0, limit));
  return page(rows, limit, view, (r) => ({ id: r.contact.contactId }));
}

/** One page of contacts joined to their user rows, on the contacts primary key (exported for plan tests). */
export function contactsPageQuery(db: Database, ownerId: string, limit: number, afterId?: string) {
  return db
    .select({ user: users, contact: contacts })
    .from(contacts)
    .innerJoin(users, eq(users.id, contacts.contactId))
    .where(
      and(
        eq(contacts.ownerId, ownerId),
        afterId ? gt(contacts.contactId, afterId) : undefined,
        inArray(users.status, [...VISIBLE_STATUSES]),
      ),
    )
    .orderBy(asc(contacts.contactId))
    .limit(limit + 1);
}
