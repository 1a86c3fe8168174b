import { and, eq, inArray, or } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { blocks, contacts, follows } from "../db/schema";
import { parseJsonObject } from "../lib/json-object";
import { iso, now } from "../lib/time";
import { publicAttributesView } from "./attributes";

export type Audience = "everyone" | "contacts" | "nobody";

/** How one profile owner relates to the viewer; drives what the viewer may see. */
export interface Relation {
  self: boolean;
  /** The owner has the viewer in their contacts (what `contacts` audiences mean). */
  viewerIsOwnersContact: boolean;
  /** The viewer has the owner in their contacts. */
  ownerIsViewersContact: boolean;
  /** The owner blocked the viewer: no presence, photo or stories for the viewer. */
  blockedByOwner: boolean;
  /** The viewer blocked the owner. */
  viewerBlockedOwner: boolean;
  viewerFollows: boolean;
}

/**
 * D1 allows 100 bound parameters a query. The contacts and blocks queries below look both ways,
 * binding every id of a chunk twice (2 × 45 + 2 = 92), so a chunk holds at most 45 ids.
 */
const CHUNK = 45;
const chunks = <T>(items: T[]) =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, i) => items.slice(i * CHUNK, (i + 1) * CHUNK));

/**
 * Relations between a viewer and many profile owners in three indexed queries per chunk (contacts
 * both ways, blocks both ways, follows), never one query per owner.
 */
export async function loadRelations(db: Database, viewerId: string, ownerIds: string[]): Promise<Map<string, Relation>> {
  const ids = [...new Set(ownerIds)];
  const result = new Map<string, Relation>();
  for (const id of ids) {
    result.set(id, {
      self: id === viewerId,
      viewerIsOwnersContact: false,
      ownerIsViewersContact: false,
      blockedByOwner: false,
      viewerBlockedOwner: false,
      viewerFollows: false,
    });
  }
  for (const part of chunks(ids.filter((id) => id !== viewerId))) {
    const [contactRows, blockRows, followRows] = await Promise.all([
      db
        .select()
        .from(contacts)
        .where(
          or(
            and(eq(contacts.contactId, viewerId), inArray(contacts.ownerId, part)),
            and(eq(contacts.ownerId, viewerId), inArray(contacts.contactId, part)),
          ),
        ),
      db
        .select()
        .from(blocks)
        .where(
          or(
            and(eq(blocks.blockedId, viewerId), inArray(blocks.blockerId, part)),
            and(eq(blocks.blockerId, viewerId), inArray(blocks.blockedId, part)),
          ),
        ),
      db
        .select({ followeeId: follows.followeeId })
        .from(follows)
        .where(and(eq(follows.followerId, viewerId), inArray(follows.followeeId, part))),
    ]);
    for (const c of contactRows) {
      if (c.contactId === viewerId) result.get(c.ownerId)!.viewerIsOwnersContact = true;
      if (c.ownerId === viewerId) result.get(c.contactId)!.ownerIsViewersContact = true;
    }
    for (const b of blockRows) {
      if (b.blockedId === viewerId) result.get(b.blockerId)!.blockedByOwner = true;
      if (b.blockerId === viewerId) result.get(b.blockedId)!.viewerBlockedOwner = true;
    }
    for (const f of followRows) result.get(f.followeeId)!.viewerFollows = true;
  }
  return result;
}

export async function loadRelation(db: Database, viewerId: string, ownerId: string): Promise<Relation> {
  return (await loadRelations(db, viewerId, [ownerId])).get(ownerId)!;
}

/** Whether an audience setting lets this viewer see the field. */
export function allowed(audience: Audience, rel: Relation): boolean {
  if (rel.self) return true;
  if (audience === "everyone") return true;
  if (audience === "contacts") return rel.viewerIsOwnersContact;
  return false;
}

/** Whether either side blocked the other (direct chats, group adds, follows are refused). */
export async function isBlockedEitherWay(db: Database, a: string, b: string): Promise<boolean> {
  const rows = await db
    .select({ x: blocks.blockerId })
    .from(blocks)
    .where(or(and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)), and(eq(blocks.blockerId, b), eq(blocks.blockedId, a))))
    .limit(1);
  return rows.length > 0;
}

/**
 * Whether the user holds a realtime socket: their hub keeps `online_until` ahead of the clock
 * while one is open and clears it when the last one goes (hubs/presence.ts). A hub that vanished
 * without hearing the close lets the lease lapse, so nobody stays online forever.
 */
export function isOnline(u: Pick<UserRow, "onlineUntil">, at = now()): boolean {
  return u.onlineUntil != null && u.onlineUntil > at;
}

/** The status, or null once it expired. */
export function currentStatus(u: UserRow, at = now()) {
  if (!u.statusText && !u.statusEmoji) return null;
  if (u.statusExpiresAt != null && u.statusExpiresAt <= at) return null;
  return { text: u.statusText, emoji: u.statusEmoji, expiresAt: iso(u.statusExpiresAt) };
}

/**
 * A profile as `viewer` may see it. A field the owner's privacy withholds is omitted, never
 * faked; an owner who blocked the viewer shows no presence and no photo.
 */
export function publicProfileView(u: UserRow, rel: Relation) {
  const view: Record<string, unknown> = {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    kind: u.kind,
    bio: u.bio,
    links: u.links ? (JSON.parse(u.links) as unknown[]) : [],
    status: currentStatus(u),
    followersCount: u.followersCount,
    followingCount: u.followingCount,
    isContact: rel.ownerIsViewersContact,
    isFollowing: rel.viewerFollows,
    isBlocked: rel.viewerBlockedOwner,
    ...publicAttributesView(u),
    // Public by design: the app sets it for everyone to read (documented as such).
    metadata: parseJsonObject(u.metadata),
    createdAt: iso(u.createdAt),
  };
  const hidden = rel.blockedByOwner && !rel.self;
  if (!hidden && allowed(u.privacyProfilePhoto, rel)) view.avatarMediaId = u.avatarMediaId;
  // Presence is hidden by a block either way, as in rooms and contacts' presence frames.
  if (!hidden && !rel.viewerBlockedOwner && allowed(u.privacyLastSeen, rel)) {
    view.lastSeenAt = iso(u.lastSeenAt);
    view.online = isOnline(u);
  }
  // Others see only a verified address: anyone may type someone else's into a profile.
  if (u.phone && (rel.self || u.phoneVerifiedAt != null) && allowed(u.privacyPhone, rel)) view.phone = u.phone;
  if (u.email && (rel.self || u.emailVerifiedAt != null) && allowed(u.privacyEmail, rel)) view.email = u.email;
  if (u.birthday && allowed("contacts", rel)) view.birthday = u.birthday;
  return view;
}
