import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { usersByIds } from "../social/people";
import { allowed, loadRelations } from "../users/visibility";

/**
 * Which of `userIds` `actorId` may put into a group or channel. Active accounts that neither
 * blocked the actor nor were blocked by them are `allowed` when their `groupInvites` setting lets
 * the actor in (`everyone`; `contacts` = they have the actor in their contacts; `nobody`), and
 * `invitable` when only that setting stands in the way: they get an invitation to accept instead.
 * Everyone else (unknown or inactive accounts, blocks either way) is `skipped`, with no reason
 * given, so a block is not announced.
 */
export async function screenInvitees(
  db: Database,
  actorId: string,
  userIds: string[],
): Promise<{ allowed: UserRow[]; invitable: string[]; skipped: string[] }> {
  const ids = [...new Set(userIds)].filter((id) => id !== actorId);
  if (ids.length === 0) return { allowed: [], invitable: [], skipped: [] };
  const [rows, relations] = await Promise.all([usersByIds(db, ids), loadRelations(db, actorId, ids)]);
  const ok: UserRow[] = [];
  const invitable: string[] = [];
  const skipped: string[] = [];
  for (const id of ids) {
    const user = rows.get(id);
    const rel = relations.get(id)!;
    const reachable = user && user.status === "active" && !rel.blockedByOwner && !rel.viewerBlockedOwner;
    if (!reachable) skipped.push(id);
    else if (allowed(user.privacyGroupInvites, rel)) ok.push(user);
    else invitable.push(id);
  }
  return { allowed: ok, invitable, skipped };
}

/**
 * Statements that add members exactly once and keep `chats.member_count` exact in the same D1
 * batch (a transaction), without binding one parameter per user (the ids travel as one JSON
 * array through json_each):
 * 1. count += the ids that are not members yet;
 * 2. insert them (reading from the chat's current last seq: earlier messages are not unread for
 *    them), but only while the count stays within `cap`, returning who was inserted;
 * 3. if the cap was exceeded, 2 inserted nobody and the count goes back down by the same number.
 * Concurrent adds of the same user insert them once (primary key, ON CONFLICT DO NOTHING).
 */
export function addMemberStatements(
  d1: D1Database,
  chatId: string,
  userIds: string[],
  role: "owner" | "admin" | "member",
  cap: number,
  at: number,
) {
  const ids = JSON.stringify([...new Set(userIds)]);
  const fresh = `(SELECT count(*) FROM json_each(?1) j WHERE NOT EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = ?2 AND m.user_id = j.value))`;
  return [
    d1.prepare(`UPDATE chats SET member_count = member_count + ${fresh}, updated_at = ?3 WHERE id = ?2`).bind(ids, chatId, at),
    d1
      .prepare(
        `INSERT INTO chat_members (chat_id, user_id, role, joined_at, read_seq)
         SELECT ?2, j.value, ?4, ?3, (SELECT last_seq FROM chats WHERE id = ?2)
           FROM json_each(?1) j WHERE (SELECT member_count FROM chats WHERE id = ?2) <= ?5
         ON CONFLICT DO NOTHING RETURNING user_id`,
      )
      .bind(ids, chatId, at, role, cap),
    d1.prepare(`UPDATE chats SET member_count = member_count - ${fresh} WHERE id = ?2 AND member_count > ?3`).bind(ids, chatId, cap),
  ];
}

/** Remove one member of a given role (guarding against a concurrent role change) and count it, in one batch. */
export function removeMemberStatements(d1: D1Database, chatId: string, userId: string, role: string, at: number) {
  return [
    d1
      .prepare(
        `UPDATE chats SET member_count = member_count - 1, updated_at = ?4
          WHERE id = ?1 AND EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2 AND role = ?3)`,
      )
      .bind(chatId, userId, role, at),
    d1.prepare("DELETE FROM chat_members WHERE chat_id = ?1 AND user_id = ?2 AND role = ?3 RETURNING user_id").bind(chatId, userId, role),
  ];
}
