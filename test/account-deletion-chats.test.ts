import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { C, createDirect, createGroup, expectSendRefused, getChat, history, openChatSocket, send, systemEvents } from "./chat-helpers";
import { api, STRONG_PASSWORD, signUp, type TestUser } from "./helpers";

const deleteAccount = async (u: TestUser) => {
  const res = await api("DELETE", "/api/v1/users/me", { token: u.accessToken, body: { password: STRONG_PASSWORD } });
  expect(res.status, res.text).toBe(204);
};
const addMember = async (owner: TestUser, chatId: string, member: TestUser, role?: "admin") => {
  const res = await api("POST", `${C}/${chatId}/members`, {
    token: owner.accessToken,
    body: { userIds: [member.id], ...(role ? { role } : {}) },
  });
  expect(res.status, res.text).toBe(200);
};
const members = async (chatId: string) =>
  (
    await env.DB.prepare("SELECT user_id, role FROM chat_members WHERE chat_id = ? ORDER BY user_id")
      .bind(chatId)
      .all<{ user_id: string; role: string }>()
  ).results;

describe("deleting an account takes it out of its chats", () => {
  it("hands owned chats to the longest-standing admin, else member; deletes chats left empty", async () => {
    const [b, c, d, e] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const withAdmin = await createGroup(b, [d]);
    await addMember(b, withAdmin.id, c, "admin");
    const membersOnly = await createGroup(b, [d]);
    await addMember(b, membersOnly.id, e);
    const alone = await createGroup(b);
    const watcher = await openChatSocket(d, withAdmin.id);

    await deleteAccount(b);

    expect(await members(withAdmin.id)).toEqual(
      [
        { user_id: c.id, role: "owner" },
        { user_id: d.id, role: "member" },
      ].sort((x, y) => x.user_id.localeCompare(y.user_id)),
    );
    expect((await members(membersOnly.id)).find((m) => m.role === "owner")?.user_id).toBe(d.id);
    expect(await env.DB.prepare("SELECT id FROM chats WHERE id = ?").bind(alone.id).first()).toBeNull();
    expect((await getChat(c, withAdmin.id)).body.chat).toMatchObject({ memberCount: 2, role: "owner" });
    // The members were told live, and the history says what happened.
    expect(await watcher.next("member.left", (f) => f.userId === b.id)).toBeTruthy();
    expect(await systemEvents(d, withAdmin.id)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: "ownership_transferred", actorId: null, userIds: [c.id], previousRole: "admin" }),
        expect.objectContaining({ event: "left", actorId: b.id, userIds: [b.id] }),
      ]),
    );
    // The new owner can run the chat.
    const renamed = await api("PATCH", `${C}/${withAdmin.id}`, { token: c.accessToken, body: { name: "Ours now" } });
    expect(renamed.status, renamed.text).toBe(200);
  });

  it("leaves groups it was a member of; its messages stay readable", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const group = await createGroup(a, [b]);
    await send(b, group.id, "written before leaving");
    await deleteAccount(b);
    expect((await members(group.id)).map((m) => m.user_id)).toEqual([a.id]);
    const items = (await history(a, group.id, "?limit=50")).body.items as any[];
    expect(items.find((m) => m.text === "written before leaving")).toMatchObject({ senderId: b.id });
    const list = await api("GET", `${C}/${group.id}/members`, { token: a.accessToken });
    expect(list.body.items.map((m: any) => m.userId)).toEqual([a.id]);
  });

  it("keeps direct chats for the other person, shown as Deleted account, closed to new messages", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const direct = await createDirect(a, b);
    await send(b, direct.id, "bye");
    await deleteAccount(b);
    const chat = (await getChat(a, direct.id)).body.chat;
    expect(chat).toMatchObject({ type: "direct", name: "Deleted account", peer: { id: b.id, displayName: "Deleted account" } });
    await expectSendRefused(a, direct.id, 403, "peer_deleted");
    expect(((await history(a, direct.id)).body.items as any[]).map((m) => m.text)).toContain("bye");
    const list = await api("GET", C, { token: a.accessToken });
    expect(list.body.items.find((c: any) => c.id === direct.id)).toMatchObject({ name: "Deleted account" });
  });
});
