import { describe, expect, it } from "vitest";
import { C, cid, createChannel, createGroup, MISSING, send, sendRaw } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp, type TestUser } from "./helpers";
import { PNG } from "./media-fixtures";
import { getMedia, upload } from "./media-helpers";

/** Forwarding messages between chats, and the chat settings it depends on (noForwards, metadata). */

const forward = (u: TestUser, chatId: string, messageId: string, toChatIds: string[]) =>
  api("POST", `${C}/${chatId}/messages/${messageId}/forward`, { token: u.accessToken, body: { toChatIds } });

async function forwardOk(u: TestUser, chatId: string, messageId: string, toChatIds: string[]) {
  const res = await forward(u, chatId, messageId, toChatIds);
  expect(res.status, res.text).toBe(200);
  return res.body.results as any[];
}

describe("forwarding", () => {
  it("copies an image with its caption; the target's members may read the media; forwardedFrom names the origin", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const source = await createGroup(a, [b]);
    const target = await createGroup(b, [c]);
    const item = await upload(a, PNG, { type: "image/png", name: "cat.png" });
    const sent = await sendRaw(a, source.id, {
      clientMessageId: cid(),
      type: "image",
      text: "see https://example.com",
      attachments: [item.id],
    });
    expect(sent.status, sent.text).toBe(201);
    const original = sent.body.message;
    expectError(await getMedia(c, item.id), 404, "not_found");

    const [result] = await forwardOk(b, source.id, original.id, [target.id]);
    expect(result.chatId).toBe(target.id);
    expect(result.error).toBeUndefined();
    expect(result.message).toMatchObject({
      chatId: target.id,
      senderId: b.id,
      type: "image",
      text: "see https://example.com",
      attachments: original.attachments,
      entities: original.entities,
      forwardedFrom: { chatId: source.id, messageId: original.id, senderId: a.id },
      replyTo: null,
      mentions: [],
    });
    expect((await getMedia(c, item.id)).status).toBe(200);
    const seen = await api("GET", `${C}/${target.id}/messages/${result.message.id}`, { token: c.accessToken });
    expect(seen.body.message.forwardedFrom.messageId).toBe(original.id);
  });

  it("forwarding a forward keeps the first origin; a retry sends nothing twice", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const first = await createGroup(a, [b]);
    const second = await createGroup(b);
    const third = await createGroup(b);
    const original = await send(a, first.id, "pass it on");
    const [once] = await forwardOk(b, first.id, original.id, [second.id]);
    const [again] = await forwardOk(b, second.id, once.message.id, [third.id]);
    expect(again.message.forwardedFrom).toEqual({ chatId: first.id, messageId: original.id, senderId: a.id });

    const [retry] = await forwardOk(b, first.id, original.id, [second.id]);
    expect(retry.message.id).toBe(once.message.id);
    const items = (await api("GET", `${C}/${second.id}/messages`, { token: b.accessToken })).body.items.filter((m: any) => m.senderId);
    expect(items).toHaveLength(1);
  });

  it("refuses a noForwards source (403) and hides chats and messages the caller cannot see (404)", async () => {
    const [a, b, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const locked = await createGroup(a, [b], { noForwards: true });
    expect(locked.noForwards).toBe(true);
    const mine = await createGroup(b);
    const m = await send(a, locked.id, "secret");
    expectError(await forward(b, locked.id, m.id, [mine.id]), 403, "forwarding_disabled");

    const open = await createGroup(a, [b]);
    const visible = await send(a, open.id, "not for strangers");
    const strangerChat = await createGroup(stranger);
    expectError(await forward(stranger, open.id, visible.id, [strangerChat.id]), 404, "not_found");
    expectError(await forward(b, open.id, MISSING, [mine.id]), 404, "not_found");
    // Deleted for everyone, or hidden for me: gone too.
    expect((await api("DELETE", `${C}/${open.id}/messages/${visible.id}?for=me`, { token: b.accessToken })).status).toBe(204);
    expectError(await forward(b, open.id, visible.id, [mine.id]), 404, "not_found");
    // Turning it off again over PATCH (changeInfo) lets messages out.
    expectError(await api("PATCH", `${C}/${locked.id}`, { token: b.accessToken, body: { noForwards: false } }), 403, "permission_denied");
    const patched = await api("PATCH", `${C}/${locked.id}`, { token: a.accessToken, body: { noForwards: false } });
    expect(patched.body.chat.noForwards).toBe(false);
    expect((await forwardOk(b, locked.id, m.id, [mine.id]))[0].message).toBeDefined();
  });

  it("answers per target: sent where the caller may post, an error where not", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const source = await createGroup(a, [b]);
    const ok = await createGroup(b);
    const channel = await createChannel(a, [b]);
    const notMine = await createGroup(a);
    const noMedia = await createGroup(a, [b]);
    expect((await api("PATCH", `${C}/${noMedia.id}`, { token: a.accessToken, body: { permissions: { sendMedia: false } } })).status).toBe(
      200,
    );
    const item = await upload(a, PNG, { type: "image/png" });
    const image = (await sendRaw(a, source.id, { clientMessageId: cid(), type: "image", attachments: [item.id] })).body.message;

    const results = await forwardOk(b, source.id, image.id, [ok.id, channel.id, notMine.id, noMedia.id, MISSING]);
    expect(results.map((r) => r.chatId)).toEqual([ok.id, channel.id, notMine.id, noMedia.id, MISSING]);
    expect(results[0].message.type).toBe("image");
    expect(results.slice(1).map((r) => r.error.code)).toEqual(["channel_read_only", "not_found", "media_forbidden", "not_found"]);
    expectInvalid(await forward(b, source.id, image.id, []), "body.toChatIds");
    expectInvalid(await forward(b, source.id, image.id, [ok.id, ok.id]), "body.toChatIds");
  });
});

describe("chat settings", () => {
  it("stores metadata up to 4 KiB as given, refuses more or non-objects (400)", async () => {
    const a = await signUp();
    const metadata = { theme: "dark", nested: { list: [1, 2, { x: null }] } };
    const chat = await createGroup(a, [], { metadata });
    expect(chat).toMatchObject({ metadata, noForwards: false });
    const got = await api("GET", `${C}/${chat.id}`, { token: a.accessToken });
    expect(got.body.chat.metadata).toEqual(metadata);

    const big = { blob: "x".repeat(5000) };
    expectInvalid(await api("POST", C, { token: a.accessToken, body: { type: "group", name: "big", metadata: big } }), "body.metadata");
    expectInvalid(await api("PATCH", `${C}/${chat.id}`, { token: a.accessToken, body: { metadata: big } }), "body.metadata");
    expectInvalid(await api("PATCH", `${C}/${chat.id}`, { token: a.accessToken, body: { metadata: [1, 2] } }), "body.metadata");
    const cleared = await api("PATCH", `${C}/${chat.id}`, { token: a.accessToken, body: { metadata: null } });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body.chat.metadata).toBeNull();
    const other = await signUp();
    expectInvalid(
      await api("POST", C, { token: a.accessToken, body: { type: "direct", memberIds: [other.id], noForwards: true } }),
      "body.noForwards",
    );
  });
});
