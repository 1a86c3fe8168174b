import { and, eq, ne } from "drizzle-orm";
import { memberPermissions, requireChatMember } from "../chats/access";
import { activeBan } from "../chats/bans";
import type { Database } from "../db/client";
import { type CallKind, type ChatRow, chatMembers, type MemberRow, type UserRow, users } from "../db/schema";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { allowed, loadRelations } from "../users/visibility";
import { callMediaFor } from "./call-media";
import type { StartCallInput } from "./call-room";
import { callClient } from "./client";
import { MAX_CALL_PARTICIPANTS } from "./config";
import { type IceServers, iceServersFor } from "./ice-servers";
import type { CallView } from "./views";

/** Who may take a call from whom: members of the chat, reachable and willing. */
type Callee = Pick<UserRow, "id" | "kind" | "status" | "privacyCalls">;

const notAllowed = (message = "Nobody in this chat can take a call from you") => new AppError(403, "calls_not_allowed", message);

/** The chat's other members as callees (at most MAX_CALL_PARTICIPANTS of them are read). */
async function otherMembers(db: Database, chatId: string, callerId: string): Promise<Callee[]> {
  return db
    .select({ id: users.id, kind: users.kind, status: users.status, privacyCalls: users.privacyCalls })
    .from(chatMembers)
    .innerJoin(users, eq(users.id, chatMembers.userId))
    .where(and(eq(chatMembers.chatId, chatId), ne(chatMembers.userId, callerId)))
    .limit(MAX_CALL_PARTICIPANTS);
}

/**
 * Whom `callerId` may ring in the chat. A direct chat's peer must be reachable: a block either
 * way answers `403 blocked`, a deleted account `403 peer_deleted`, and a bot, an account that is
 * not active, or a `calls` privacy setting that leaves the caller out `403 calls_not_allowed`. In
 * a group, members who are unreachable like that (blocks, bots, inactive accounts, privacy) are
 * left out without a word; if nobody is left, `403 calls_not_allowed`. Channels have no calls
 * (`400 calls_unsupported`); frozen chats none either (`403 chat_frozen`); in a group the caller
 * needs the `sendMessages` permission and must not be shadow-banned.
 */
export async function calleesFor(db: Database, chat: ChatRow, member: MemberRow): Promise<string[]> {
  const callerId = member.userId;
  if (chat.type === "channel") throw new AppError(400, "calls_unsupported", "Calls are for direct chats and groups");
  if (chat.frozenAt != null) throw new AppError(403, "chat_frozen", "This chat is frozen");
  if (chat.type === "group") {
    if (!memberPermissions(chat, member).sendMessages) {
      throw new AppError(403, "permission_denied", "You need the sendMessages permission in this chat", { required: "sendMessages" });
    }
    if (chat.memberCount > MAX_CALL_PARTICIPANTS) {
      throw new AppError(422, "call_too_large", `A call rings at most ${MAX_CALL_PARTICIPANTS} people`, { max: MAX_CALL_PARTICIPANTS });
    }
    if ((await activeBan(db, chat.id, callerId))?.shadow) throw notAllowed();
  }
  const members = await otherMembers(db, chat.id, callerId);
  const relations = await loadRelations(
    db,
    callerId,
    members.map((m) => m.id),
  );
  if (chat.type === "direct") {
    const peer = members[0];
    if (!peer || peer.status === "deleted") throw new AppError(403, "peer_deleted", "The other person deleted their account");
    const rel = relations.get(peer.id)!;
    if (rel.blockedByOwner || rel.viewerBlockedOwner) throw new AppError(403, "blocked", "Calls are blocked in this chat");
    if (peer.kind === "bot" || peer.status !== "active" || !allowed(peer.privacyCalls, rel)) {
      throw notAllowed("This person does not take calls from you");
    }
    return [peer.id];
  }
  const callees = members.filter((m) => {
    const rel = relations.get(m.id)!;
    return m.kind !== "bot" && m.status === "active" && !rel.blockedByOwner && !rel.viewerBlockedOwner && allowed(m.privacyCalls, rel);
  });
  if (callees.length === 0) throw notAllowed();
  return callees.map((m) => m.id);
}

/**
 * Start a call in a chat the caller is a member of (else `404 not_found`): ring everyone
 * calleesFor allows on every device, in a mesh up to MESH_MAX_PARTICIPANTS people, beyond that
 * through the SFU (`422 sfu_not_configured` without one). The call is bound to the caller's
 * session. Answers the call and the caller's ICE servers.
 */
export async function startCall(
  db: Database,
  env: Bindings,
  caller: { userId: string; sessionId: string },
  input: { chatId: string; kind: CallKind },
): Promise<{ call: CallView } & IceServers> {
  const { chat, member } = await requireChatMember(db, input.chatId, caller.userId);
  const calleeIds = await calleesFor(db, chat, member);
  const media = callMediaFor(env, calleeIds.length + 1);
  const ice = await iceServersFor(env, caller.userId);
  const start: StartCallInput = {
    callId: newId(),
    chatId: chat.id,
    chatType: chat.type as "direct" | "group",
    callerId: caller.userId,
    callerSessionId: caller.sessionId,
    kind: input.kind,
    media: media.kind,
    calleeIds,
  };
  const call = await callClient(env, start.callId).start(start);
  return { call, ...ice };
}
