import { describe, expect, it } from "vitest";
import { C, createDirect, createGroup, flush, history, send, unread } from "./chat-helpers";
import { api, expectError, signUp } from "./helpers";

const truncate = (token: string, chatId: string) => api("POST", `${C}/${chatId}/truncate`, { token });

describe("POST /chats/:chatId/truncate", () => {
  it("clears the history for everyone, keeps seqs going and zeroes unread counts", async () => {
    const [owner, member] = [await signUp(), await signUp()];
    const chat = await createGroup(owner, [member]);
    for (let i = 0; i < 3; i++) await send(owner, chat.id, `old ${i}`);
    await flush(chat.id);
    expect((await unread(member)).total).toBe(3);
    const before = (await api("GET", `${C}/${chat.id}/events?after=0&limit=1000`, { token: member.accessToken })).body
      .lastEventSeq as number;

    const res = await truncate(owner.accessToken, chat.id);
    expect(res.status, res.text).toBe(200);
    // "created" system message + 3 messages.
    expect(res.body).toEqual({ seq: 4, removed: 4 });
    expect((await history(member, chat.id)).body).toEqual({ items: [], hasMore: false });
    await flush(chat.id);
    expect((await unread(member)).total).toBe(0);
    const events = (await api("GET", `${C}/${chat.id}/events?after=${before}`, { token: member.accessToken })).body.events;
    expect(events).toEqual([expect.objectContaining({ type: "chat.truncated", seq: 4, actorId: owner.id })]);

    const next = await send(owner, chat.id, "fresh start");
    expect(next.seq).toBe(5);
    expect((await history(member, chat.id)).body.items.map((m: { text: string }) => m.text)).toEqual(["fresh start"]);
  });

  it("is for owners and admins of groups and channels only", async () => {
    const [owner, member, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(owner, [member]);
    expectError(await truncate(member.accessToken, chat.id), 403, "permission_denied");
    expectError(await truncate(stranger.accessToken, chat.id), 404, "not_found");
    expectError(await api("POST", `${C}/${chat.id}/truncate`, {}), 401, "unauthorized");
    expectError(await truncate(owner.accessToken, "not-a-uuid"), 400, "validation_failed");
    const direct = await createDirect(owner, member);
    expectError(await truncate(owner.accessToken, direct.id), 400, "direct_chat_unsupported");
    await send(owner, chat.id, "still here");
    expect((await history(owner, chat.id)).body.items.some((m: { text: string }) => m.text === "still here")).toBe(true);
  });
});
